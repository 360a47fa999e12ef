// Second run on the same data directory: no define; the class and the objects are there.
const alice = odin.ref("Account", "alice");
console.log(await alice.state());
console.log(await alice.deposit(5));
console.log((await odin.objects("Account")).map(String));
// Transient fields are rebuilt by the initialisers on activation.
console.log("transient fields after a restart:", await alice.peek());
// Paging through the ids of a class.
const page1 = await odin.objects("Account", { limit: 3 });
const page2 = await odin.objects("Account", { after: page1[page1.length - 1], limit: 3 });
const page3 = await odin.objects("Account", { after: page2[page2.length - 1].id, limit: 3 });
console.log(page1.map(String), page2.map(String), page3.map(String));
console.log((await odin.objects("Nothing")).length);
