// A child process for internal-network-port.test.ts: one engine host's port, joining at an
// agreed moment (so that several processes race), that sends one broadcast once it sees all
// its peers and prints how many frames it received. Bundled by the test with esbuild.
import { randomUUID } from 'node:crypto';
import { InternalNetworkPort } from '../../../src-emulator/network/internal-network-port';

const [home, startAtText, countText] = process.argv.slice(2);
const peers = Number(countText) - 1;

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

async function main(): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAtText) - Date.now())));
  const port = await InternalNetworkPort.join({ maruHome: home!, network: 'race', vmId: randomUUID(), index: 0 });
  let got = 0;
  const vm = port.attachVm(() => got++);
  await until(() => port.stats().peers === peers, 10_000);
  await new Promise((r) => setTimeout(r, 300)); // let twin connections settle
  const frame = Buffer.alloc(60);
  frame.fill(0xff, 0, 6); // broadcast
  Buffer.from([0x52, 0x54, 0x00, 0x00, 0x00, process.pid & 0xff]).copy(frame, 6);
  vm.send(frame);
  await until(() => got >= peers, 10_000);
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive meanwhile
  process.stdout.write(`${JSON.stringify({ got })}\n`);
  await port.close();
}

void main();
