// Second run on the same data directory: no define; the class and the objects are there.
const alice = odin.ref("Account", "alice");
console.log(await alice.state());
console.log(await alice.deposit(5));
console.log((await odin.objects("Account")).map(String));
