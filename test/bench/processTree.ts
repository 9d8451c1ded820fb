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
  /** File descriptors by what they are (socket, pipe, anon_inode:[eventfd], file...), over all those processes. */
  fdKinds: Record<string, number>;
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

/** What each descriptor of `pid` points at (readlink of /proc/pid/fd/N). */
function fdTargets(pid: number): string[] {
  const out: string[] = [];
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      out.push(readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch { /* closed meanwhile */ }
  }
  return out;
}

function fdKind(target: string): string {
  if (target.startsWith('socket:')) return 'socket';
  if (target.startsWith('pipe:')) return 'pipe';
  if (target.startsWith('anon_inode:')) return target.replace(/^anon_inode:/, '');
  if (target.startsWith('/dev/')) return 'dev';
  return 'file';
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

/** One reading of the server's footprint. */
export function serverFootprint(root = process.pid): ServerFootprint {
  const children = serverChildren(root);
  const pids = [root, ...children.map((c) => c.pid)];
  const udp = new Set([...tableInodes('/proc/net/udp'), ...tableInodes('/proc/net/udp6')]);
  const tcp = new Set([...tableInodes('/proc/net/tcp'), ...tableInodes('/proc/net/tcp6')]);
  let udpSockets = 0, tcpSockets = 0, threads = 0, fds = 0, rssKiB = 0;
  const fdKinds: Record<string, number> = {};
  for (const pid of pids) {
    threads += statusField(pid, 'Threads');
    rssKiB += statusField(pid, 'VmRSS');
    const targets = fdTargets(pid);
    fds += targets.length;
    for (const target of targets) fdKinds[fdKind(target)] = (fdKinds[fdKind(target)] ?? 0) + 1;
    const inodes = new Set(targets.map((t) => /^socket:\[(\d+)\]$/.exec(t)?.[1]).filter((i): i is string => i !== undefined));
    for (const inode of inodes) {
      if (udp.has(inode)) udpSockets += 1;
      else if (tcp.has(inode)) tcpSockets += 1;
    }
  }
  return { children, threads, fds, rssMiB: Math.round(rssKiB / 1024), udpSockets, tcpSockets, fdKinds };
}

export function countKind(footprint: ServerFootprint, kind: ProcessKind): number {
  return footprint.children.filter((c) => c.kind === kind).length;
}
