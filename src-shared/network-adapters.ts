// A VM's network adapters as every front end and engine reads them: each adapter's MAC (its own,
// or one derived from the VM's uuid and its index), port-forward rule names, the checks a set of
// adapters must pass (VBoxManage's limits), and how an adapter reads in one line.
import { MAC_PATTERN, MAX_NICS, type NicConfig, type NicModel, type PortForward, type VmConfig } from './vm-config';

/**
 * A locally administered, stable MAC from the VM's uuid: adapter 0 gets `52:54:00:…` (QEMU's
 * prefix, the MAC every Maru VM had before it had several adapters), adapter i `52:54:0i:…`, so
 * no two adapters of one VM, nor adapter 0 of another, share one.
 */
export function macAddressFor(vmId: string, index = 0): string {
  const hex = vmId.replace(/-/g, '');
  return ['52', '54', `0${index.toString(16)}`, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4, 6)].join(':');
}

/** The MAC adapter `index` of `config` has: its own, else the derived one. */
export function nicMacAddress(config: Pick<VmConfig, 'id' | 'nics'>, index: number): string {
  return config.nics[index]?.mac ?? macAddressFor(config.id, index);
}

/**
 * A MAC as a user types it — `08:00:27:AB:CD:EF`, `08-00-27-ab-cd-ef` or VBoxManage's
 * `080027ABCDEF` — as the config keeps it (lower case, colons); null when it is not one, or
 * when it is a multicast address (no adapter can have one).
 */
export function parseMacAddress(text: string): string | null {
  const t = text.trim().toLowerCase();
  const hex = /^[0-9a-f]{12}$/.test(t)
    ? t
    : /^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$/.test(t)
      ? t.replace(/[:-]/g, '')
      : null;
  if (hex === null) return null;
  const mac = hex.match(/../g)!.join(':');
  return MAC_PATTERN.test(mac) ? mac : null;
}

/** A rule's name: its own, else `tcp-2222` (rules from before rules had names). */
export function portForwardName(rule: Pick<PortForward, 'name' | 'protocol' | 'hostPort'>): string {
  return rule.name ?? `${rule.protocol}-${rule.hostPort}`;
}

/** The guest address slirp forwards to on NAT adapter `index` (its first DHCP address). */
export function natGuestAddress(index: number): string {
  return `10.0.${2 + index}.15`;
}

/** A new adapter: NAT, cable in, no forwards. */
export function natAdapter(model: NicModel): NicConfig {
  return { attachment: 'nat', model, cableConnected: true, portForwards: [] };
}

/** True when two forwards would bind the same host socket (0.0.0.0 and :: take every address). */
function sameHostSocket(a: PortForward, b: PortForward): boolean {
  if (a.protocol !== b.protocol || a.hostPort !== b.hostPort) return false;
  const any = (h: string): boolean => h === '' || h === '0.0.0.0' || h === '::';
  return a.hostAddress === b.hostAddress || any(a.hostAddress) || any(b.hostAddress);
}

/**
 * What is wrong with a VM's adapters as a whole, one sentence each (empty: nothing): too many,
 * an internal adapter without a network name, port forwards on an adapter that is not NAT, two
 * rules of one adapter with one name, two forwards on one host address and port, one MAC twice.
 * Adapters are numbered from 1 here, as the CLI and the settings dialog number them.
 */
export function nicProblems(config: Pick<VmConfig, 'id' | 'nics'>): string[] {
  const problems: string[] = [];
  const nics = config.nics;
  if (nics.length > MAX_NICS)
    problems.push(`A VM has at most ${MAX_NICS} network adapters; this one would have ${nics.length}.`);
  const forwards: { rule: PortForward; adapter: number }[] = [];
  const macs = new Map<string, number>();
  nics.forEach((n, i) => {
    const adapter = i + 1;
    if (n.attachment === 'internal' && !n.network) {
      problems.push(`Adapter ${adapter} is on an internal network but has no network name; give one (e.g. "intnet").`);
    }
    if (n.attachment !== 'internal' && n.network !== undefined) {
      problems.push(`Adapter ${adapter} is not on an internal network, so it takes no network name.`);
    }
    if (n.attachment !== 'nat' && n.portForwards.length > 0) {
      problems.push(
        `Adapter ${adapter} has port forwards but is ${n.attachment === 'internal' ? 'on an internal network' : 'not attached'}: ` +
          'only a NAT adapter forwards ports. Remove its forwards, or attach it to NAT.',
      );
    }
    const names = new Set<string>();
    for (const rule of n.portForwards) {
      const name = portForwardName(rule);
      if (names.has(name)) problems.push(`Adapter ${adapter} has two port-forward rules named "${name}".`);
      names.add(name);
      const clash = forwards.find((f) => sameHostSocket(f.rule, rule));
      if (clash) {
        problems.push(
          `Host port ${rule.hostPort} on ${rule.hostAddress} (${rule.protocol}) is forwarded twice: by rule ` +
            `"${portForwardName(clash.rule)}" of adapter ${clash.adapter} and rule "${name}" of adapter ${adapter}. ` +
            'Choose another host port for one of them.',
        );
      }
      forwards.push({ rule, adapter });
    }
    const mac = nicMacAddress(config, i);
    const twin = macs.get(mac);
    if (twin !== undefined) problems.push(`Adapters ${twin} and ${adapter} both have MAC address ${mac}.`);
    else macs.set(mac, adapter);
  });
  return problems;
}

/** What an adapter is attached to, in words: `NAT`, `internal network "intnet"`, `not attached`. */
export function attachmentText(nic: NicConfig): string {
  if (nic.attachment === 'nat') return 'NAT';
  if (nic.attachment === 'internal') return `internal network "${nic.network ?? ''}"`;
  return 'not attached';
}

/**
 * How the v86 engine runs adapter `index` — null when as configured. v86 has one adapter, an
 * NE2000 (ne2k_pci); its NAT is not built yet, while internal networks work through the engine
 * host's switch.
 */
export function v86AdapterNote(nic: NicConfig, index: number): string | null {
  if (index > 0) return 'not used on the v86 engine (it has one network adapter)';
  if (nic.attachment === 'nat') return 'not connected on the v86 engine (NAT for v86 is not built yet)';
  if (nic.model !== 'ne2k_pci') return 'an NE2000 (ne2k_pci) on the v86 engine, whatever the model';
  return null;
}
