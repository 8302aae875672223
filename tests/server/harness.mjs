// Shared by the Node tests: start `edgerun serve` on a free port, read the
// port from its first line, stop it; a tiny check counter that fails the run.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

export function startServer(edgerun, args, { quiet = true } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(edgerun, ["serve", "--port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    let ready = false;
    let url = null;
    const timer = setTimeout(() => reject(new Error("edgerun serve did not start:\n" + log)), 60000);
    proc.stderr.on("data", (d) => {
      log += d.toString();
      if (!quiet) process.stderr.write(d);
      const m = log.match(/listening on (http:\/\/[0-9.]+:\d+)/);
      if (m) url = m[1];
      if (url && !ready && log.includes(" ready: ")) {
        ready = true;
        clearTimeout(timer);
        resolve({ url, proc, pid: proc.pid, log: () => log, stop: () => stop(proc) });
      }
    });
    proc.on("exit", (code) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`edgerun serve exited with ${code}:\n${log}`));
      }
    });
  });
}

function stop(proc) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    proc.on("exit", (code) => resolve(code));
    proc.kill("SIGTERM");
  });
}

// Resident memory of a process in KiB (Linux).
export function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : 0;
}

export class Checks {
  constructor(name) { this.name = name; this.passed = 0; this.failed = 0; }
  ok(cond, what) {
    if (cond) { this.passed++; return; }
    this.failed++;
    console.error(`FAILED: ${what}`);
  }
  equal(a, b, what) { this.ok(a === b, `${what}: ${JSON.stringify(a)} !== ${JSON.stringify(b)}`); }
  async throwsStatus(fn, status, what, check = () => true) {
    try {
      await fn();
      this.ok(false, `${what}: no error`);
    } catch (e) {
      this.ok(e.status === status, `${what}: status ${e.status} (${e.message}), expected ${status}`);
      this.ok(check(e), `${what}: ${e.constructor.name} ${e.message}`);
    }
  }
  finish() {
    console.log(`${this.name}: ${this.passed} passed, ${this.failed} failed`);
    if (this.passed === 0 || this.failed > 0) process.exit(1);
  }
}

export function fixtures() {
  const source = process.argv[3];
  return `${source}/../shared/fixtures`;
}
