/**
 * One logger per file, on `debug` namespaces (`DEBUG=voxface:*` shows everything).
 * Warnings and errors always print, whatever DEBUG says.
 */
import debug from 'debug';

const ROOT = 'voxface';

export class Logger {
  readonly #debug: debug.Debugger;
  readonly #prefix: string;

  constructor(name: string) {
    this.#debug = debug(`${ROOT}:${name}`);
    this.#prefix = `${ROOT}:${name}`;
  }

  debug(message: string, ...args: unknown[]): void {
    this.#debug(message, ...args);
  }

  info(message: string, ...args: unknown[]): void {
    if (process.env.VOXFACE_QUIET === '1') return;
    console.log(`${this.#prefix} ${message}`, ...args);
  }

  warn(message: string, ...args: unknown[]): void {
    console.warn(`${this.#prefix} WARN ${message}`, ...args);
  }

  error(message: string, ...args: unknown[]): void {
    console.error(`${this.#prefix} ERROR ${message}`, ...args);
  }
}
