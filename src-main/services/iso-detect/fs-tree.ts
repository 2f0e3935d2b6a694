// One read-only view over the file systems an ISO may carry (UDF, Joliet, Rock Ridge, plain
// ISO 9660): a tree of nodes with byte extents, and a walker that looks paths up case-insensitively.
import { AppError } from '../../../src-shared/errors';
import type { IsoFile } from './iso-file';

export interface Extent {
  /** Byte offset in the image. */
  readonly offset: number;
  readonly length: number;
}

/** Where a node's data lies: byte extents in the image, or bytes embedded in UDF metadata. */
export interface NodeData {
  readonly size: number;
  readonly extents: readonly Extent[];
  readonly inline?: Buffer;
}

export interface TreeNode {
  readonly name: string;
  readonly isDir: boolean;
  /** Resolved on demand (UDF keeps sizes and extents in a File Entry: one more sector to read). */
  data(): Promise<NodeData>;
}

/** A node whose data is already known (ISO 9660 records carry it). */
export function knownNode(name: string, isDir: boolean, data: NodeData): TreeNode {
  const p = Promise.resolve(data);
  return { name, isDir, data: () => p };
}

export type TreeKind = 'udf' | 'joliet' | 'rock-ridge' | 'iso9660';

export interface FsTree {
  readonly kind: TreeKind;
  readonly root: TreeNode;
  list(dir: TreeNode): Promise<TreeNode[]>;
}

/** Directory sizes beyond this are not read (a real install medium's largest is a few hundred KiB). */
export const MAX_DIR_BYTES = 4 * 1024 * 1024;

/** Reads up to `maxBytes` of a node's data, following its extents. */
export async function readNode(iso: IsoFile, node: TreeNode, maxBytes: number): Promise<Buffer> {
  return readNodeRange(iso, node, 0, maxBytes);
}

/** Reads up to `length` bytes of a node's data from `start`, following its extents. */
export async function readNodeRange(iso: IsoFile, node: TreeNode, start: number, length: number): Promise<Buffer> {
  const d = await node.data();
  const end = Math.min(d.size, start + length);
  if (end <= start) return Buffer.alloc(0);
  if (d.inline) return d.inline.subarray(start, end);
  const parts: Buffer[] = [];
  let pos = 0; // offset in the node of the current extent
  for (const e of d.extents) {
    const from = Math.max(start, pos);
    const to = Math.min(end, pos + e.length);
    if (to > from) parts.push(await iso.read(e.offset + (from - pos), to - from, `the data of ${node.name}`));
    pos += e.length;
    if (pos >= end) break;
  }
  return Buffer.concat(parts);
}

/** Compares names as install media spell them: case-insensitive, without ISO 9660 ";1" versions. */
export function normalizeName(name: string): string {
  return name.replace(/;\d+$/, '').replace(/\.$/, '').toLowerCase();
}

/**
 * Looks paths up in the first tree that has them (UDF first: Windows media keep their files
 * only there; then Joliet / Rock Ridge, which keep case and long names; then plain ISO 9660).
 */
export class TreeWalker {
  private readonly cache = new Map<string, Promise<TreeNode[] | null>>();
  /** Damaged structures skipped while walking (for diagnostics). */
  readonly notes: string[] = [];

  constructor(
    readonly iso: IsoFile,
    readonly trees: readonly FsTree[],
  ) {}

  private async listIn(tree: FsTree, parts: readonly string[]): Promise<TreeNode[] | null> {
    const key = `${tree.kind}:${parts.join('/')}`;
    let p = this.cache.get(key);
    if (!p) {
      p = (async () => {
        let dir = tree.root;
        for (let i = 0; i < parts.length; i++) {
          const children = await this.listIn(tree, parts.slice(0, i));
          const next = children ? findChild(children, parts[i]!) : undefined;
          if (!next || !next.isDir) return null;
          dir = next;
        }
        try {
          return await tree.list(dir);
        } catch (err) {
          // A damaged folder in one tree: look in the next tree. Truncation is the file's fault: say so.
          if (err instanceof AppError) throw err;
          this.notes.push(`${tree.kind} ${parts.join('/') || '/'}: ${(err as Error).message}`);
          return null;
        }
      })();
      this.cache.set(key, p);
    }
    return p;
  }

  /** Children of a folder (`''` = root), from the first tree that has the folder. */
  async list(dirPath: string): Promise<TreeNode[] | null> {
    const parts = splitPath(dirPath);
    for (const tree of this.trees) {
      const children = await this.listIn(tree, parts);
      if (children) return children;
    }
    return null;
  }

  /** A file or folder by path, from the first tree that has it. */
  async find(filePath: string): Promise<TreeNode | null> {
    const parts = splitPath(filePath);
    const last = parts.pop();
    if (last === undefined) return null;
    for (const tree of this.trees) {
      const children = await this.listIn(tree, parts);
      const hit = children ? findChild(children, last) : undefined;
      if (hit) return hit;
    }
    return null;
  }

  async isDir(p: string): Promise<boolean> {
    return (await this.find(p))?.isDir === true;
  }

  async isFile(p: string): Promise<boolean> {
    const n = await this.find(p);
    return n !== null && !n.isDir;
  }

  /** A small text file (UTF-8, or UTF-16 with a BOM), or null when absent. */
  async readText(p: string, maxBytes = 16 * 1024): Promise<string | null> {
    const node = await this.find(p);
    if (!node || node.isDir) return null;
    const buf = await readNode(this.iso, node, maxBytes);
    if (buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
    return buf.toString('utf8');
  }
}

function splitPath(p: string): string[] {
  return p.split('/').filter((s) => s.length > 0);
}

function findChild(children: readonly TreeNode[], name: string): TreeNode | undefined {
  const want = normalizeName(name);
  const exact = children.find((c) => normalizeName(c.name) === want);
  if (exact) return exact;
  // Plain ISO 9660 cannot hold a leading dot: mastering tools write ".disk" as "_disk".
  if (want.startsWith('.')) return children.find((c) => normalizeName(c.name) === '_' + want.slice(1));
  return undefined;
}
