// hello.js: the smallest useful Odin program.
//
//   odin run --memory scripts/hello.js        (forget everything at exit)
//   odin run scripts/hello.js                 (keep objects in ./odin-data)
//
// An Odin object is an instance of a plain JavaScript class. Its own fields are
// its persistent state; its methods are what other code can call.
class Greeter {
  greeted = 0;                      // a field initialiser: runs when the object is created

  hello(name) {
    this.greeted += 1;              // this change is committed when the call (the "turn") ends
    return `Hello, ${name}! I am ${odin.self()}, and I have greeted ${this.greeted} time(s).`;
  }
}

// Register the class with the database under its name, "Greeter".
odin.define(Greeter);

// A Ref names an object by class and id. Objects are virtual: "world" exists as
// soon as a call to it changes its state; there is no "create" step.
const greeter = odin.ref("Greeter", "world");

// Calls through a Ref are always asynchronous: they return a Promise.
console.log(await greeter.hello("Ada"));
console.log(await greeter.hello("Grace"));

// Run this with --data DIR twice: the count goes on from where it stopped.
