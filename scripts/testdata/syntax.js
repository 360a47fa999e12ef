console.log("never printed");
class A {
  m() { return 1 + ; }
}
