"""Tiny wasm32-wasi programs written in WAT, for probing the sandbox precisely."""

import wasmtime

IMPORTS = """
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; write(ptr, len) to stdout via an iovec at 0..8, nwritten at 8
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr)) (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
"""


def module(body: str, imports: str = IMPORTS) -> bytes:
    return bytes(wasmtime.wat2wasm(f"(module {imports} {body})"))


HELLO = module('(data (i32.const 64) "hello\\n") (func (export "_start") (call $write (i32.const 64) (i32.const 6)))')
INFINITE_LOOP = module('(func (export "_start") (loop (br 0)))')
# Grows memory a page at a time until the limit refuses, then exits with (pages grown % 256).
MEMORY_BOMB = module("""(func (export "_start") (local $n i32)
  (block $done (loop $grow
    (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
    (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $grow)))
  (call $exit (i32.and (local.get $n) (i32.const 255))))""")
OUTPUT_FLOOD = module('(data (i32.const 64) "flood flood flood\\n") '
                      '(func (export "_start") (loop (call $write (i32.const 64) (i32.const 18)) (br 0)))')  # fmt: skip
# Prints 8 bytes of realtime clock, 8 of monotonic clock and 16 random bytes.
CLOCK_AND_ENTROPY = module("""(func (export "_start")
  (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 100)))
  (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 108)))
  (drop (call $random (i32.const 116) (i32.const 16)))
  (call $write (i32.const 100) (i32.const 32)))""")
# Tries to open "/etc/passwd" relative to fd 3 (there are no preopens) and exits with the errno.
OPEN_FILE = module("""(data (i32.const 200) "/etc/passwd")
  (func (export "_start")
    (call $exit (call $path_open (i32.const 3) (i32.const 0) (i32.const 200) (i32.const 11) (i32.const 0)
                 (i64.const 0xffff) (i64.const 0xffff) (i32.const 0) (i32.const 300))))""")
UNREACHABLE = module('(func (export "_start") unreachable)')
DIVIDE_BY_ZERO = module('(func (export "_start") (drop (i32.div_u (i32.const 1) (i32.const 0))))')
STACK_OVERFLOW = module('(func $f (call $f)) (func (export "_start") (call $f))')
EXIT_42 = module('(func (export "_start") (call $exit (i32.const 42)))')
EXIT_200 = module('(func (export "_start") (call $exit (i32.const 200)))')
NO_START = module('(func (export "main"))')
UNKNOWN_IMPORT = module('(import "env" "steal_keys" (func $steal)) (memory (export "memory") 1) '
                        '(func (export "_start") (call $steal))', imports="")  # fmt: skip
HUGE_INITIAL_MEMORY = module('(memory (export "memory") 10000) (func (export "_start"))', imports="")
# 0/0 as f32, its bits written to stdout: canonical NaN is 0x7fc00000 whatever the CPU.
NAN_BITS = module("""(func (export "_start")
  (f32.store (i32.const 100) (f32.div (f32.const 0) (f32.const 0)))
  (call $write (i32.const 100) (i32.const 4)))""")
