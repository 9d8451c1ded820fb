/**
 * What the server holds, read from /proc: the server process (the bench's own,
 * since benches run the server in-process) and its descendants, each classified by
 * its command line, with their threads, file descriptors, resident memory and the
 * UDP and TCP sockets among those descriptors. Chromium, which playwright starts
 * as a child of the same process, is left out with everything below it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export type ProcessKind = 'mediasoup-worker' | 'ffmpeg' | 'trainer' | 'render' | 'other';

export interface ServerProcess {
  pid: number;
  kind: ProcessKind;
  cmdline: string;
}

export interface ServerFootprint {
  /** Descendants of the server process (Chromium excluded), by kind. */
  children: ServerProcess[];
  threads: number;
  fds: number;
  rssMiB: number;
  udpSockets: number;
  tcpSockets: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function cmdlineOf(pid: number): string {
  return (read(`/proc/${pid}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
}

/** Classifies a server child by its command line. Render processes are recognized by name, whichever module starts them. */
export function kindOf(cmdline: string): ProcessKind | 'chromium' {
  const program = cmdline.split(' ')[0] ?? '';
  if (/chrom(e|ium)/i.test(program) || /chrome_crashpad|--type=(renderer|gpu-process|utility|zygote)/.test(cmdline)) return 'chromium';
  if (/mediasoup-worker/.test(program)) return 'mediasoup-worker';
  if (/(^|\/)ffmpeg$/.test(program)) return 'ffmpeg';
  if (/voxface(\.js)?\s+train\b|\btrain\.ts\b/.test(cmdline)) return 'trainer';
  if (/render/i.test(cmdline)) return 'render';
  return 'other';
}

/** Parent pid of every process on the machine (one pass over /proc). */
function parents(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  return children;
}

/** The server's descendants, Chromium's subtree left out. */
export function serverChildren(root = process.pid): ServerProcess[] {
  const tree = parents();
  const out: ServerProcess[] = [];
  const walk = (pid: number) => {
    for (const child of tree.get(pid) ?? []) {
      const cmdline = cmdlineOf(child);
      const kind = kindOf(cmdline);
      if (kind === 'chromium') continue;
      out.push({ pid: child, kind, cmdline });
      walk(child);
    }
  };
  walk(root);
  return out;
}

function statusField(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(read(`/proc/${pid}/status`) ?? '');
  return match ? Number(match[1]) : 0;
}

function socketInodes(pid: number): string[] {
  const out: string[] = [];
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) out.push(match[1]!);
    } catch { /* closed meanwhile */ }
  }
  return out;
}

/** Inodes of the machine's sockets of one table (/proc/net/udp, ...): the 10th column. */
function tableInodes(file: string): Set<string> {
  const inodes = new Set<string>();
  for (const line of (read(file) ?? '').split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    if (columns.length > 9) inodes.add(columns[9]!);
  }
  return inodes;
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** One reading of the server's footprint. */
export function serverFootprint(root = process.pid): ServerFootprint {
  const children = serverChildren(root);
  const pids = [root, ...children.map((c) => c.pid)];
  const udp = new Set([...tableInodes('/proc/net/udp'), ...tableInodes('/proc/net/udp6')]);
  const tcp = new Set([...tableInodes('/proc/net/tcp'), ...tableInodes('/proc/net/tcp6')]);
  let udpSockets = 0, tcpSockets = 0, threads = 0, fds = 0, rssKiB = 0;
  for (const pid of pids) {
    threads += statusField(pid, 'Threads');
    rssKiB += statusField(pid, 'VmRSS');
    fds += fdCount(pid);
    for (const inode of new Set(socketInodes(pid))) {
      if (udp.has(inode)) udpSockets += 1;
      else if (tcp.has(inode)) tcpSockets += 1;
    }
  }
  return { children, threads, fds, rssMiB: Math.round(rssKiB / 1024), udpSockets, tcpSockets };
}

export function countKind(footprint: ServerFootprint, kind: ProcessKind): number {
  return footprint.children.filter((c) => c.kind === kind).length;
}
