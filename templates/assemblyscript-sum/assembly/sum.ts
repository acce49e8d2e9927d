// Reads whitespace-separated signed integers from stdin, prints "count=<n> sum=<s>\n" to stdout.
// Built with @assemblyscript/wasi-shim: top-level code runs as the WASI _start.
const buf = new ArrayBuffer(65536);
let sum: i64 = 0, count: i32 = 0, cur: i64 = 0, neg = false, inNum = false;
while (true) {
  const n = process.stdin.read(buf);
  if (n <= 0) break;
  for (let i = 0; i < n; i++) {
    const c = load<u8>(changetype<usize>(buf) + <usize>i);
    if (c >= 48 && c <= 57) { cur = cur * 10 + <i64>(c - 48); inNum = true; }
    else if (c == 45 && !inNum) { neg = true; }              // '-'
    else {
      if (inNum) { sum += neg ? -cur : cur; count++; }
      cur = 0; neg = false; inNum = false;
    }
  }
}
if (inNum) { sum += neg ? -cur : cur; count++; }
process.stdout.write("count=" + count.toString() + " sum=" + sum.toString() + "\n");
