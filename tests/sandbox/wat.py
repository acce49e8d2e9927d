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

# WASI errno values (wasi_snapshot_preview1.witx) the tests below expect.
EBADF, ENOENT, ENOTSOCK, EINVAL, EPERM = 8, 44, 57, 28, 63
FD_READ, FD_WRITE = 0x2, 0x40


def open_at(path: str, *, rights: int = FD_READ, oflags: int = 0, path_ptr: int = 200) -> bytes:
    """Opens `path` relative to descriptor 3 (the first mount) and exits with the errno path_open returned.
    `path_ptr` is where the call is told the path is (the bytes are always at 200)."""
    return module(f"""(data (i32.const 200) "{path}")
  (func (export "_start")
    (call $exit (call $path_open (i32.const 3) (i32.const 0) (i32.const {path_ptr}) (i32.const {len(path)})
                 (i32.const {oflags}) (i64.const {rights}) (i64.const 0) (i32.const 0) (i32.const 300))))""")


# path_open refused by trapping: the path's pointer is past the end of the 1-page memory, or oflags has
# bits WASI does not define; the second through a function table (the call is not visible in the code).
OPEN_PATH_OUTSIDE_MEMORY = open_at("data.txt", path_ptr=70_000)
OPEN_UNDEFINED_FLAGS = open_at("data.txt", oflags=0xFF)
OPEN_INDIRECTLY_OUTSIDE_MEMORY = module("""(data (i32.const 200) "data.txt")
  (type $open (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (table 1 funcref) (elem (i32.const 0) $path_open)
  (func (export "_start")
    (call $exit (call_indirect (type $open) (i32.const 3) (i32.const 0) (i32.const 70000) (i32.const 8)
                 (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 300) (i32.const 0))))""")
# The sandbox's own calls (wasi.py) given pointers they cannot use: an iovec array past the memory's
# end, a buffer at 0xfffffff8 (-8 as an i32: the Python binding would write it at the memory's end),
# entropy that does not fit, and a module with no memory at all.
WRITE_IOVECS_OUTSIDE_MEMORY = module(
    '(func (export "_start") (drop (call $fd_write (i32.const 1) (i32.const 70000) (i32.const 1) (i32.const 8))))'
)
CLOCK_TO_NEGATIVE_POINTER = module(
    '(func (export "_start") (drop (call $clock (i32.const 1) (i64.const 1) (i32.const -8))))'
)
ENTROPY_PAST_THE_END = module('(func (export "_start") (drop (call $random (i32.const 65530) (i32.const 16))))')
WRITE_WITHOUT_MEMORY = module(
    '(func (export "_start") (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))',
    imports='(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))',
)
# Sleeps 2^64-1 ns (the virtual clock saturates), then prints the monotonic clock (8 bytes).
SLEEP_FOREVER = module(
    """(func (export "_start")
  (i32.store8 (i32.const 408) (i32.const 0))                          ;; subscription at 400: clock
  (i64.store (i32.const 424) (i64.const -1))                          ;; timeout u64::MAX, relative
  (drop (call $poll (i32.const 400) (i32.const 500) (i32.const 1) (i32.const 600)))
  (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 100)))
  (call $write (i32.const 100) (i32.const 8)))""",
    imports='(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))'
    + IMPORTS,
)
# fd_write of 1,025 buffers (one past IOV_MAX): EINVAL, returned (exit code).
WRITE_TOO_MANY_BUFFERS = module(
    '(func (export "_start") (call $exit (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1025) (i32.const 8))))'
)
# poll_oneoff asked for 2^32-1 subscriptions: EINVAL, returned (exit code).
POLL_TOO_MANY = module(
    '(func (export "_start") (call $exit (call $poll (i32.const 0) (i32.const 0) (i32.const -1) (i32.const 0))))',
    imports='(import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))'
    + IMPORTS,
)
_SOCKETS = """(import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))"""
SOCKET_ACCEPT = module(
    '(func (export "_start") (call $exit (call $accept (i32.const 3) (i32.const 0) (i32.const 100))))',
    imports=_SOCKETS + IMPORTS,
)
SOCKET_SEND_ON_STDOUT = module(
    '(func (export "_start") (call $exit (call $send (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0) '
    "(i32.const 100))))",
    imports=_SOCKETS + IMPORTS,
)
