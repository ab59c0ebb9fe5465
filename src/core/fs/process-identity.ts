// Who holds a lock, precisely enough to tell later whether that process is still running: its pid,
// the host, the kernel's boot id (a reboot ends every holder) and, on Linux, the process's start
// time (a pid reused by a newer process is not the holder).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessIdentity {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id where there is one. */
  bootId: string | null;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot) where there is one. */
  startTicks: string | null;
}

function readBootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** State and start time of a process from /proc, or null where /proc has no such entry. */
function procStat(pid: number): { state: string; startTicks: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', startTicks: fields[19] ?? '' };
  } catch {
    return null;
  }
}

let self: ProcessIdentity | null = null;

export function thisProcess(): ProcessIdentity {
  self ??= {
    pid: process.pid,
    host: hostname(),
    bootId: readBootId(),
    startTicks: procStat(process.pid)?.startTicks ?? null,
  };
  return self;
}

/**
 * True only when the holder is certainly gone: it ran on this host and its process no longer
 * exists (or is a zombie, or its pid now belongs to a later process), or this host was rebooted
 * since. A holder on another host cannot be judged from here: false.
 */
export function holderIsGone(holder: ProcessIdentity): boolean {
  const me = thisProcess();
  if (holder.host !== me.host) return false;
  if (holder.bootId && me.bootId && holder.bootId !== me.bootId) return true;
  if (holder.pid === me.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const stat = procStat(holder.pid);
  if (stat === null) return false;
  if (stat.state === 'Z' || stat.state === 'X') return true;
  return holder.startTicks !== null && stat.startTicks !== holder.startTicks;
}
