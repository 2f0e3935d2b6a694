// A port of an internal network for one adapter of one VM: a learning Ethernet switch with no
// central process. Every port of network N listens on `<network folder>/<vmId>-<i>.sock`, connects
// to the ports already there (full mesh; a later one connects to it) and relays frames between its
// VM (QEMU's `-netdev stream` client of a socket this port serves, or v86's NE2000 bus events) and
// its peers. Frames from peers only ever go to the VM, so the mesh has no loops.
import { readdir, rm, rmdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { AppError } from '../../src-shared/errors';
import { chooseNetworkFolder, ensurePrivateFolder, networkPortSocketName } from '../../src-node/run-folder';
import { FrameLink } from './frame-link';
import { ETHERNET_HEADER_BYTES, MacTable, isGroupDestination } from './learning-switch';

/** Bytes queued for one socket beyond which frames for it are dropped (a slow VM or peer). */
export const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;
/** The first frame on a peer connection names the port that connected: `MARU-NET-HELLO/1 <name>`. */
const HELLO_PREFIX = 'MARU-NET-HELLO/1 ';
const PORT_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;
/** A peer that connects must say who it is within this time. */
const HELLO_TIMEOUT_MS = 5000;
/** A socket file that refuses a connection is asked again after this long before it is called stale. */
const STALE_RECHECK_MS = 100;

export interface InternalNetworkPortOptions {
  /** The data folder: networks live under its `run/net/` (or a short fallback, see chooseNetworkFolder). */
  readonly maruHome: string;
  /** The network's name (NETWORK_NAME_PATTERN). */
  readonly network: string;
  readonly vmId: string;
  /** The adapter's index in the VM's config. */
  readonly index: number;
  readonly log?: (line: string) => void;
  /** Default DEFAULT_MAX_QUEUED_BYTES. */
  readonly maxQueuedBytes?: number;
}

/** A VM attached through functions (v86): frames it sends go in through `send`. */
export interface VmAttachment {
  /** A frame the VM sent (copied: the caller may reuse its buffer). */
  send(frame: Uint8Array): void;
  /** Detaches the VM: frames for it are dropped from now on. */
  dispose(): void;
}

/**
 * Joins adapter `index` of the engine's VM to internal network `network`. The engine host hands
 * this to its engine and closes the ports it made when the VM ends.
 */
export type JoinInternalNetwork = (index: number, network: string) => Promise<InternalNetworkPort>;

/** Counters of one port (tests, logs). */
export interface PortStats {
  /** Peers (other ports of the network) connected now. */
  readonly peers: number;
  /** Frames dropped because a VM or peer socket did not keep up. */
  readonly dropped: number;
  /** Addresses in the forwarding table. */
  readonly learned: number;
}

/** Where a frame goes to reach the VM of this port. */
interface VmEndpoint {
  send(frame: Uint8Array): boolean;
}

/** The table entry of addresses that belong to this port's own VM. */
const LOCAL = 'local' as const;

interface PeerLink {
  readonly link: FrameLink;
  /** null until its hello arrived (incoming connections). */
  name: string | null;
  /** This port connected (true) or the peer did (false). */
  readonly outgoing: boolean;
  /** Replaced by a twin connection to the same peer: its close is not the peer leaving. */
  superseded: boolean;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException)?.code ?? '');
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Connects to a unix socket; rejects with the connect error. */
function connectUnix(file: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(file);
    const onError = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function listenUnix(server: net.Server, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(file, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export class InternalNetworkPort {
  /** The network's folder of peer sockets. */
  readonly folder: string;
  /** `<vmId>-<index>`: this port's name among its peers. */
  readonly name: string;
  /** This port's peer socket. */
  readonly socketPath: string;
  private readonly log: (line: string) => void;
  private readonly maxQueuedBytes: number;
  private readonly label: string;
  private readonly server = net.createServer((s) => this.onPeerConnection(s));
  /** Every peer connection, identified or not yet. */
  private readonly links = new Set<PeerLink>();
  /** The identified ones: one per peer port. */
  private readonly peers = new Set<PeerLink>();
  private readonly table = new MacTable<PeerLink | typeof LOCAL>();
  private vm: VmEndpoint | null = null;
  private vmServer: net.Server | null = null;
  private vmLinks = new Set<FrameLink>();
  private vmDropped = 0;
  /** The socket files this port made (and so removes). */
  private readonly ownFiles: string[] = [];
  private closed = false;

  private constructor(
    private readonly options: InternalNetworkPortOptions,
    private readonly short: boolean,
    folder: string,
  ) {
    this.folder = folder;
    this.name = networkPortSocketName(options.vmId, options.index).replace(/\.sock$/, '');
    this.socketPath = path.join(folder, `${this.name}.sock`);
    this.log = options.log ?? (() => undefined);
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.label = `internal network ${JSON.stringify(options.network)}`;
  }

  /**
   * Joins the network: makes its folder (private), listens for peers, connects to every port
   * already there (removing socket files nobody listens on). The VM is attached afterwards.
   */
  static async join(options: InternalNetworkPortOptions): Promise<InternalNetworkPort> {
    if (process.platform === 'win32') {
      throw new AppError(
        'UNSUPPORTED',
        `Adapter ${options.index + 1} is on ${JSON.stringify(options.network)}, an internal network: Maru does not ` +
          'build internal networks on Windows yet. Attach the adapter to NAT or to nothing.',
      );
    }
    const choice = chooseNetworkFolder({
      maruHome: options.maruHome,
      network: options.network,
      platform: process.platform,
      uid: process.getuid?.() ?? null,
    });
    const port = new InternalNetworkPort(options, choice.short, choice.folder);
    try {
      await port.listen();
      await port.connectToPeers();
    } catch (err) {
      await port.close();
      throw err;
    }
    port.log(
      `${port.label}: adapter ${options.index + 1} joined as ${port.name} (${port.peers.size} peer(s)) in ${port.folder}`,
    );
    return port;
  }

  private async listen(): Promise<void> {
    // Another port leaving may remove the (empty) folder between our mkdir and our bind: try again.
    for (let attempt = 1; ; attempt++) {
      await ensurePrivateFolder(this.folder, this.short);
      await this.clearOwnSocketFile();
      try {
        await listenUnix(this.server, this.socketPath);
        this.ownFiles.push(this.socketPath);
        return;
      } catch (err) {
        if (isErrno(err, 'ENOENT') && attempt < 5) continue;
        throw new AppError(
          'IO',
          `Cannot open the ${this.label} port ${this.socketPath}: ${(err as Error).message}. ` +
            `Check that ${this.folder} belongs to this user.`,
        );
      }
    }
  }

  /** Our own socket file from a run that ended abnormally is stale; one that answers is someone else's. */
  private async clearOwnSocketFile(): Promise<void> {
    const state = await this.probeSocketFile(this.socketPath);
    if (state === 'live') {
      throw new AppError(
        'BUSY',
        `Adapter ${this.options.index + 1} of VM ${this.options.vmId} is already on the ${this.label} ` +
          `(${this.socketPath} answers): another engine host runs this VM. Stop it first.`,
      );
    }
    if (state === 'stale') await rm(this.socketPath, { force: true });
  }

  /** Whether a socket file has a listener ('live'), is left over ('stale'), or is gone ('missing'). */
  private async probeSocketFile(file: string): Promise<'live' | 'stale' | 'missing'> {
    for (let attempt = 1; ; attempt++) {
      try {
        const s = await connectUnix(file);
        s.destroy();
        return 'live';
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return 'missing';
        // A port binds and listens in one step, but give one that is just starting a moment.
        if (isErrno(err, 'ECONNREFUSED') && attempt === 1) {
          await delay(STALE_RECHECK_MS);
          continue;
        }
        if (isErrno(err, 'ECONNREFUSED', 'ENOTSOCK')) return 'stale';
        return 'live'; // EAGAIN (a full backlog) and the like: someone is there
      }
    }
  }

  private async connectToPeers(): Promise<void> {
    const names = await readdir(this.folder).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return [] as string[];
      throw err;
    });
    const others = names.filter((n) => n.endsWith('.sock') && n !== `${this.name}.sock`);
    await Promise.all(others.map((n) => this.connectToPeer(n.slice(0, -'.sock'.length))));
  }

  private async connectToPeer(peerName: string): Promise<void> {
    const file = path.join(this.folder, `${peerName}.sock`);
    let socket: net.Socket;
    for (let attempt = 1; ; attempt++) {
      try {
        socket = await connectUnix(file);
        break;
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return; // it left meanwhile
        if (isErrno(err, 'ECONNREFUSED', 'ENOTSOCK')) {
          if (attempt === 1) {
            await delay(STALE_RECHECK_MS);
            continue;
          }
          // Nobody listens: a port whose engine host ended without cleaning up.
          await rm(file, { force: true });
          this.log(`${this.label}: removed the stale port ${file} (nobody listens on it)`);
          return;
        }
        this.log(`${this.label}: cannot reach the port ${file}: ${(err as Error).message}`);
        return;
      }
    }
    if (this.closed) {
      socket.destroy();
      return;
    }
    const peer = this.addLink(socket, true);
    peer.link.send(Buffer.from(`${HELLO_PREFIX}${this.name}`));
    this.identified(peer, peerName);
  }

  private onPeerConnection(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const peer = this.addLink(socket, false);
    const timer = setTimeout(() => {
      if (peer.name === null) peer.link.destroy(new Error('it did not say which port it is'));
    }, HELLO_TIMEOUT_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private addLink(socket: net.Socket, outgoing: boolean): PeerLink {
    const peer: PeerLink = {
      link: new FrameLink(socket, this.maxQueuedBytes, {
        onFrame: (frame) => this.fromPeer(peer, frame),
        onClose: (_link, error) => {
          this.links.delete(peer);
          this.peerClosed(peer, error);
        },
        onCongested: () => this.log(`${this.label}: port ${peer.name ?? '?'} does not keep up: dropping frames for it`),
      }),
      name: null,
      outgoing,
      superseded: false,
    };
    this.links.add(peer);
    return peer;
  }

  /** A peer link now knows its peer's name: it joins the mesh (one link per pair of ports). */
  private identified(peer: PeerLink, name: string): void {
    peer.name = name;
    const twin = [...this.peers].find((p) => p.name === name);
    if (twin) {
      // Both ports connected to each other at once. Both sides keep the link that the port with
      // the smaller name started, so exactly one survives.
      const weStartTheKeeper = this.name < name;
      const keepNew = twin.outgoing === peer.outgoing || peer.outgoing === weStartTheKeeper;
      const loser = keepNew ? twin : peer;
      loser.superseded = true;
      this.peers.delete(loser);
      this.table.forget(loser);
      loser.link.destroy();
      if (loser === peer) return;
    }
    this.peers.add(peer);
    if (!twin) this.log(`${this.label}: port ${name} connected (${this.peers.size} peer(s))`);
  }

  private peerClosed(peer: PeerLink, error: Error | null): void {
    const known = this.peers.delete(peer);
    this.table.forget(peer);
    if (peer.superseded || this.closed) return;
    if (known) {
      this.log(
        `${this.label}: port ${peer.name} left${error ? ` (${error.message})` : ''} (${this.peers.size} peer(s))`,
      );
    } else if (error) {
      this.log(`${this.label}: dropped a peer connection: ${error.message}`);
    }
  }

  // ---- switching

  private fromPeer(peer: PeerLink, frame: Buffer): void {
    if (peer.name === null) {
      const text = frame.toString('latin1');
      const name = text.startsWith(HELLO_PREFIX) ? text.slice(HELLO_PREFIX.length) : '';
      if (!PORT_NAME_PATTERN.test(name) || name === this.name) {
        peer.link.destroy(new Error('its first frame was not a Maru network hello'));
        return;
      }
      this.identified(peer, name);
      return;
    }
    if (frame.length < ETHERNET_HEADER_BYTES || !this.peers.has(peer)) return;
    this.table.learn(frame, peer);
    // A unicast frame for an address learned behind another port was flooded to us: not ours.
    if (!isGroupDestination(frame)) {
      const owner = this.table.lookup(frame);
      if (owner !== undefined && owner !== LOCAL) return;
    }
    this.toVm(frame);
  }

  /** A frame the VM sent: to the port that owns its destination, else to every port. */
  private fromVm(frame: Uint8Array): void {
    if (this.closed || frame.length < ETHERNET_HEADER_BYTES) return;
    this.table.learn(frame, LOCAL);
    if (!isGroupDestination(frame)) {
      const owner = this.table.lookup(frame);
      if (owner === LOCAL) return; // to itself: never echoed back
      if (owner !== undefined && this.peers.has(owner)) {
        owner.link.send(frame);
        return;
      }
    }
    for (const p of this.peers) p.link.send(frame);
  }

  private toVm(frame: Uint8Array): void {
    if (this.vm && !this.vm.send(frame)) this.vmDropped++;
  }

  // ---- the VM side

  /**
   * Serves the VM side on a unix socket for QEMU's `-netdev stream,server=off,addr.type=unix,
   * addr.path=<socketPath>` (QEMU connects when it starts). Returns the path.
   */
  async serveVm(socketPath: string): Promise<string> {
    if (this.vm || this.vmServer)
      throw new AppError('INTERNAL', `The ${this.label} port ${this.name} already has a VM.`);
    await rm(socketPath, { force: true });
    const server = net.createServer((socket) => {
      if (this.closed) {
        socket.destroy();
        return;
      }
      // One VM per port: a new connection (QEMU reconnecting) replaces the old one.
      for (const old of this.vmLinks) old.destroy();
      const link = new FrameLink(socket, this.maxQueuedBytes, {
        onFrame: (frame) => this.fromVm(frame),
        onClose: (l, error) => {
          this.vmLinks.delete(l);
          if (error && !this.closed) this.log(`${this.label}: the VM's connection failed: ${error.message}`);
        },
        onCongested: () => this.log(`${this.label}: the VM does not take frames (paused?): dropping frames for it`),
      });
      this.vmLinks.add(link);
    });
    this.vmServer = server;
    try {
      await listenUnix(server, socketPath);
      this.ownFiles.push(socketPath);
    } catch (err) {
      throw new AppError(
        'IO',
        `Cannot open the VM side of the ${this.label} port (${socketPath}): ${(err as Error).message}`,
      );
    }
    this.vm = {
      send: (frame) => {
        let sent = false;
        for (const l of this.vmLinks) sent = l.send(frame) || sent;
        return sent;
      },
    };
    return socketPath;
  }

  /** Attaches a VM through functions (v86): `onFrame` receives the frames for it. */
  attachVm(onFrame: (frame: Uint8Array) => void): VmAttachment {
    if (this.vm || this.vmServer)
      throw new AppError('INTERNAL', `The ${this.label} port ${this.name} already has a VM.`);
    const endpoint: VmEndpoint = {
      send: (frame) => {
        onFrame(frame);
        return true;
      },
    };
    this.vm = endpoint;
    return {
      // The sender may reuse its buffer (v86 hands out a view of the NE2000's memory): keep a copy.
      send: (frame) => {
        if (this.vm === endpoint) this.fromVm(Buffer.from(frame));
      },
      dispose: () => {
        if (this.vm === endpoint) this.vm = null;
      },
    };
  }

  stats(): PortStats {
    let dropped = this.vmDropped;
    for (const p of this.peers) dropped += p.link.dropped;
    return { peers: this.peers.size, dropped, learned: this.table.size };
  }

  /** Leaves the network: closes every link and socket, removes the socket files (and the folder when empty). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.vm = null;
    const closing = [this.server, this.vmServer].map(
      (s) => new Promise<void>((resolve) => (s?.listening ? s.close(() => resolve()) : resolve())),
    );
    for (const p of this.links) p.link.destroy();
    for (const l of this.vmLinks) l.destroy();
    this.peers.clear();
    await Promise.all(closing);
    for (const f of this.ownFiles) await rm(f, { force: true });
    // The last port out removes the network's folder (and `run/net` when it empties too).
    const folders = this.short ? [this.folder] : [this.folder, path.dirname(this.folder)];
    for (const f of folders) {
      try {
        await rmdir(f);
      } catch (err) {
        if (isErrno(err, 'ENOTEMPTY', 'EEXIST', 'ENOENT', 'EBUSY')) break;
        this.log(`${this.label}: cannot remove ${f}: ${(err as Error).message}`);
        break;
      }
    }
    this.log(`${this.label}: adapter ${this.options.index + 1} left`);
  }
}
