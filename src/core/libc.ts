/** The C library through bun:ffi: memcpy, and the Linux calls for pipes, sockets and execve. */
import { dlopen, FFIType, ptr as addressOf } from "bun:ffi";
import { IngestError } from "./errors.ts";

/** NUL-terminated UTF-8 bytes for a C string argument. */
const enc = new TextEncoder();
export function cstr(s: string): Uint8Array {
  const b = new Uint8Array(Buffer.byteLength(s) + 1);
  enc.encodeInto(s, b);
  return b;
}

function openLibc() {
  for (const name of ["libc.so.6", "libc.dylib", "/usr/lib/libSystem.B.dylib"]) {
    try {
      return dlopen(name, { memcpy: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.ptr } }).symbols;
    } catch {}
  }
  throw new IngestError("cannot open libc for memcpy");
}

let libcSyms: ReturnType<typeof openLibc> | undefined;
/** The process's libc (memcpy: the consumer copies librdkafka's payloads with it, from JS or batch.c). */
export function libc(): ReturnType<typeof openLibc> {
  return (libcSyms ??= openLibc());
}

interface LinuxLib {
  pipe2(fds: Int32Array, flags: number): number;
  close(fd: number): number;
  getsockname(fd: number, addr: Uint8Array, len: Int32Array): number;
  setsockopt(fd: number, level: number, name: number, value: Int32Array, len: number): number;
  execve(path: Uint8Array, argv: BigUint64Array, envp: BigUint64Array): number;
}
let linuxSyms: LinuxLib | null | undefined;
/**
 * libc's pipe2 and close (the producer's wake-up pipe), getsockname and setsockopt (the
 * embedded broker's TCP_NODELAY) and execve (see execWithEnv): Linux only, hence apart from
 * libc(); null elsewhere, and callers fall back.
 */
export function linuxLib(): LinuxLib | null {
  if (linuxSyms === undefined) {
    try {
      const l = dlopen("libc.so.6", {
        pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
        getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
        execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
      }).symbols;
      linuxSyms = {
        pipe2: (fds, flags) => l.pipe2(fds, flags) as number,
        close: (fd) => l.close(fd) as number,
        getsockname: (fd, addr, len) => l.getsockname(fd, addr, len) as number,
        setsockopt: (fd, level, name, value, len) => l.setsockopt(fd, level, name, value, len) as number,
        execve: (path, argv, envp) => l.execve(path, argv, envp) as number,
      };
    } catch {
      linuxSyms = null;
    }
  }
  return linuxSyms;
}
/**
 * Replace this process with `path argv...` under `env` (execve: same pid, stdio and parent, so
 * signals and the exit code stay the caller's). Returns only if that failed (or off Linux).
 */
export function execWithEnv(path: string, argv: string[], env: Record<string, string>): boolean {
  const lib = linuxLib();
  if (!lib) return false;
  // The strings must stay reachable until execve returns (it returns only on failure).
  const keep = [path, ...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].map((s) => cstr(s));
  const list = (from: number, n: number) => {
    const a = new BigUint64Array(n + 1);
    for (let i = 0; i < n; i++) a[i] = BigInt(addressOf(keep[from + i]!));
    return a;
  };
  const argvList = list(1, argv.length);
  const envList = list(1 + argv.length, keep.length - 1 - argv.length);
  lib.execve(keep[0]!, argvList, envList);
  // Here execve failed. Always false; reading `keep` after the call keeps the strings alive across it.
  return keep.length === 0;
}

/** Linux's socket constants for the above. */
export const AF_INET = 2;
export const AF_INET6 = 10;
export const IPPROTO_TCP = 6;
export const TCP_NODELAY = 1;

/** Linux's O_NONBLOCK | O_CLOEXEC for pipe2. */
export const PIPE_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000;
