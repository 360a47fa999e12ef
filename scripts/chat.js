// chat.js: a chat service as an object graph: many User and Room objects that
// hold Refs to each other and call each other.
//
//   odin run --memory scripts/chat.js
//
// What it shows:
//   - object graphs: a User stores Refs to its rooms, a Room stores Refs to its
//     members; Refs are ordinary values in an object's state;
//   - calls between objects: a room fans each message out to its members;
//   - `static schema` on nested data: a message longer than 140 characters
//     breaks the Room's schema and the whole turn is refused, so the message is
//     neither stored nor delivered to anyone (calls leave an object only after
//     its turn has committed: the "output gate");
//   - 60 users and 4 rooms, with hundreds of calls in flight at once.

class Room {
  static schema = {
    name:    { type: "string", required: true, maxLength: 32 },
    members: { type: "array", maxItems: 100 },
    history: {                                   // the last 8 messages, newest last
      type: "array", maxItems: 8,
      items: {
        type: "object",
        properties: {
          from: { type: "string", required: true },
          text: { type: "string", required: true, maxLength: 140 },
        },
      },
    },
  };

  members = [];      // Refs to User objects
  history = [];
  posts = 0;         // messages accepted, ever
  delivered = 0;     // deliveries acknowledged by members

  enter(user) {
    if (this.name === undefined) this.name = odin.self().id;
    if (!this.members.some((m) => m.id === user.id)) this.members.push(user);
    return this.members.length;
  }

  // One atomic turn. The deliveries are started here but leave the room only
  // once this turn has committed; the room does not wait for its readers. When
  // a member acknowledges, the callback runs as a later turn of this room.
  post(from, text) {
    this.posts += 1;
    this.history.push({ from: from.id, text });
    if (this.history.length > 8) this.history.shift();
    for (const m of this.members) {
      if (m.id === from.id) continue;
      m.deliver(this.name, from.id, text).then(() => { this.delivered += 1; });
    }
    return this.posts;
  }

  stats() { return { name: this.name, members: this.members.length, posts: this.posts, delivered: this.delivered }; }
  last(n) { return this.history.slice(-n); }
  memberIds() { return this.members.map((m) => m.id); }
}
odin.define(Room);

class User {
  static schema = { name: { type: "string", required: true, maxLength: 32 } };

  rooms = [];        // Refs to Room objects
  received = 0;

  async join(roomId) {
    if (this.name === undefined) this.name = odin.self().id;
    const room = odin.ref("Room", roomId);
    await room.enter(odin.self());                 // the room keeps a Ref to us...
    if (!this.rooms.some((r) => r.id === roomId)) this.rooms.push(room);   // ...and we to it
  }

  // Post in one of this user's rooms (found through the Refs in our state).
  async say(text, roomId) {
    const room = this.rooms.find((r) => r.id === roomId);
    if (!room) throw new Error(`${this.name} is not in ${roomId}`);
    return await room.post(odin.self(), text);
  }

  deliver(roomName, from, text) {
    this.received += 1;     // a real client would show `[${roomName}] ${from}: ${text}`
  }

  profile() { return { name: this.name, rooms: this.rooms.map((r) => r.id), received: this.received }; }
}
odin.define(User);

// 60 users: 5 named ones and 55 guests. Everyone is in "general"; guests are
// spread over the three topic rooms.
const named = ["ada", "grace", "alan", "barbara", "linus"];
const guests = Array.from({ length: 55 }, (_, i) => "guest" + String(i + 1).padStart(2, "0"));
const topics = ["go", "js", "databases"];
const user = (id) => odin.ref("User", id);
const room = (id) => odin.ref("Room", id);

console.log(`${named.length + guests.length} users join the rooms...`);
await Promise.all([
  ...named.map((id) => user(id).join("general")),
  ...guests.map((id) => user(id).join("general")),
  ...guests.map((id, i) => user(id).join(topics[i % 3])),
  user("ada").join("databases"), user("grace").join("go"), user("linus").join("js"),
]);
for (const r of ["general", ...topics]) console.log(`  ${r}: ${(await room(r).stats()).members} members`);

// Everyone in a topic room says hello there, all at the same time.
console.log("\nEveryone in a topic room says hello there, all at the same time...");
const topicOf = { ada: "databases", grace: "go", linus: "js" };
guests.forEach((id, i) => { topicOf[id] = topics[i % 3]; });
await Promise.all(Object.entries(topicOf).map(([id, r]) => user(id).say(`hello from ${id}`, r)));

// Then a scripted conversation in "general", one message after another.
const conversation = [
  ["ada", "Has anyone tried storing Refs in state?"],
  ["grace", "Yes: every room here keeps Refs to its members."],
  ["alan", "And each user keeps Refs to its rooms. A graph!"],
  ["barbara", "Calls go along the edges of the graph."],
  ["linus", "Talk is cheap. Show me the object."],
];
for (const [who, text] of conversation) await user(who).say(text, "general");

// A message longer than the schema allows is refused by the room: the turn is
// rolled back, so it is not counted, not in the history, and sent to nobody.
console.log("\nlinus tries to post a 200-character message in general:");
try {
  await user("linus").say("x".repeat(200), "general");
  console.log("  accepted?!");
} catch (e) {
  if (!(e instanceof odin.ConstraintError)) throw e;
  console.log(`  refused: ${e.name} on field "${e.field}", rule "${e.rule}"`);
}

// Deliveries are asynchronous: wait until every member has acknowledged every
// message (each post reaches members - 1 users).
const rooms = ["general", ...topics];
async function pending() {
  let n = 0;
  for (const r of rooms) {
    const s = await room(r).stats();
    n += s.posts * (s.members - 1) - s.delivered;
  }
  return n;
}
for (let waited = 0; (await pending()) > 0 && waited < 10_000; waited += 10) await odin.sleep(10);

console.log("\nSummary:");
let deliveries = 0;
for (const r of rooms) {
  const s = await room(r).stats();
  deliveries += s.delivered;
  console.log(`  ${s.name.padEnd(9)} ${String(s.members).padStart(2)} members, ${String(s.posts).padStart(2)} messages, ${s.delivered} deliveries`);
}
const received = (await Promise.all([...named, ...guests].map((id) => user(id).profile())))
  .reduce((sum, p) => sum + p.received, 0);
console.log(`  ${deliveries} deliveries acknowledged, ${received} messages received by users: ${deliveries === received ? "all accounted for" : "MISMATCH"}`);

console.log("\nThe last 5 messages in general:");
for (const m of await room("general").last(5)) console.log(`  ${m.from}: ${m.text}`);

// Walk the graph: from a user to its rooms, from a room to its members.
const ada = await user("ada").profile();
console.log(`\nada is in ${ada.rooms.sort().join(" and ")} and received ${ada.received} messages.`);
const dbMembers = await room("databases").memberIds();
console.log(`databases has ${dbMembers.length} members, first ones: ${dbMembers.slice().sort().slice(0, 4).join(", ")}`);
const g = (await odin.inspect(user("grace"))).state;
console.log(`inspect User/grace: rooms ${g.rooms.map(String).sort().join(", ")}; received ${g.received} messages`);
