/**
 * Starts a chain node as a process of its own (`hardhat node`, anvil) and waits until it says it
 * listens; what both node helpers share. The node's first output is kept, to say why it did not start.
 */
import { spawn } from 'node:child_process';
import { JsonRpcProvider } from 'ethers';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

export interface NodeProcess {
  readonly url: string;
  /** Reads straight from the node (no response cache). */
  readonly provider: JsonRpcProvider;
  /** Closes the provider and ends the process. */
  stop(): Promise<void>;
}

export interface NodeCommand {
  /** For messages: "anvil", "hardhat node". */
  name: string;
  /** The executable and its arguments, given the free port chosen for it. */
  command: string;
  args: (port: number) => string[];
  /** Text the node prints once it accepts requests. */
  ready: string;
  cwd?: string;
}

export async function startNodeProcess(node: NodeCommand): Promise<NodeProcess> {
  const port = await freePort();
  const child = spawn(node.command, node.args(port), { cwd: node.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    // Nodes log every call; keep only the start, which says whether it is up or why not.
    if (output.length < 20_000) output += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    `${node.name} to start`,
    () => {
      if (child.exitCode !== null) throw new Error(`${node.name} exited:\n${output}`);
      return output.includes(node.ready);
    },
    60_000,
    50,
  );
  const url = `http://127.0.0.1:${port}`;
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  return {
    url,
    provider,
    async stop() {
      provider.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
