// Second run on the same data: the indexes are stored with the objects.
const ids = (refs) => refs.map((r) => r.id).join(" ");
console.log("owner bob:", ids(await odin.find("Account", { owner: "bob" })));
console.log("rome:", ids(await odin.find("Account", { city: "rome" })));
try {
  await odin.ref("Account", "a10").setEmail("zoe@example.com");
} catch (e) {
  console.log(e.name, e.rule, "|", e.message);
}

// A new version adds an index: the objects already stored are indexed in
// the background, and until then a find on it is an UnavailableError.
class Account {
  static indexes = ["owner", ["city", "age"], "name", "email"];
  static unique = ["email"];
  open({ id, ...fields }) { Object.assign(this, fields); return this.name; }
  move(city) { this.city = city; }
  setEmail(email) { this.email = email; return email; }
}
odin.define(Account);
async function whenBuilt(f) {
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof odin.UnavailableError) || !/still being built/.test(e.message)) throw e;
      await odin.sleep(10);
    }
  }
}
console.log("emails from a:", ids(await whenBuilt(() => odin.find(Account, { email: { prefix: "a" } }))));
console.log("no email:", ids(await odin.find(Account, { email: null })));
// Without a limit a find fails with a RangeError past 10000 objects; with
// one it returns a page.
console.log("first 2 by id:", ids(await odin.find(Account, {}, { limit: 2 })));
