// A VM's network adapters from the command line, VBoxManage-style: `maru modify`'s `--nicN`,
// `--nic-typeN`, `--macN`, `--cableN`, `--nat-pfN` (N = 1..4), `maru natpf` and `maru nic` (live on a
// running VM, stored either way), and the lines `maru show` prints for each adapter.
import type { NicArgs, PortForwardArgs, VmDetails } from '../../src-shared/contracts/library';
import type { VmNicResult } from '../../src-shared/contracts/vm';
import { AppError } from '../../src-shared/errors';
import {
  attachmentText,
  natAdapter,
  nicMacAddress,
  parseMacAddress,
  portForwardName,
  v86AdapterNote,
} from '../../src-shared/network-adapters';
import { OS_PRESETS } from '../../src-shared/os-presets';
import {
  MAX_NICS,
  NETWORK_NAME_PATTERN,
  NIC_MODELS,
  type NicConfig,
  type NicModel,
  type PortForward,
  type VmConfig,
} from '../../src-shared/vm-config';
import { type CliCommand, type CliContext, UsageError, writeJson } from './cli-context';
import { parseCommandArgs, type OptionSpec, type OptionValues } from './cli-options';
import { serviceCommand, type ServicesFactory } from './service-command';
import { textTable } from './text-table';

const ADAPTERS = Array.from({ length: MAX_NICS }, (_, i) => i + 1);

/** `maru modify`'s adapter options, for adapters 1..MAX_NICS. */
export const NIC_MODIFY_OPTIONS: OptionSpec = Object.fromEntries(
  ADAPTERS.flatMap((n) => [
    [`nic${n}`, { type: 'string' }],
    [`nic-type${n}`, { type: 'string' }],
    [`mac${n}`, { type: 'string' }],
    [`cable${n}`, { type: 'string' }],
    [`nat-pf${n}`, { type: 'string', multiple: true }],
  ]),
);

export const NIC_MODIFY_USAGE =
  '[--nicN nat|internal:NAME|none|off] [--nic-typeN ' +
  NIC_MODELS.join('|') +
  '] [--macN auto|MAC] [--cableN on|off] [--nat-pfN "NAME,tcp|udp,HOSTIP,HOSTPORT,,GUESTPORT" | --nat-pfN delete:NAME]';

export const NIC_MODIFY_DETAILS =
  'Network adapters are numbered 1..4 (N above): --nicN attaches adapter N to NAT, to internal network NAME (the\n' +
  'VMs on one name see each other and nothing else), or to nothing (none: the adapter is there, without a link);\n' +
  "--nicN off removes the last adapter(s). A new adapter is NAT with the model of adapter 1 (or the preset's).\n" +
  "--macN auto derives the MAC from the VM's uuid; a MAC is 08:00:27:ab:cd:ef or 080027ABCDEF. --nat-pfN adds a\n" +
  "port-forward rule (VBoxManage's format; may be repeated): an empty HOSTIP means 127.0.0.1 (this computer only),\n" +
  "0.0.0.0 every network it is on; the guest IP stays empty (the guest's DHCP address). A running VM's cable and\n" +
  'port forwards change with "maru nic" and "maru natpf".';

/** Reads a VBoxManage port-forward rule: `name,proto,hostip,hostport,guestip,guestport`. */
export function parsePortForwardRule(text: string, option: string): PortForwardArgs & { name: string } {
  const parts = text.split(',');
  const bad = (why: string): UsageError =>
    new UsageError(`${option} "${text}": ${why} (the form is "NAME,tcp|udp,HOSTIP,HOSTPORT,,GUESTPORT").`);
  if (parts.length !== 6) throw bad(`a rule has 6 comma-separated fields, this one ${parts.length}`);
  const [name, protocol, hostIp, hostPort, guestIp, guestPort] = parts.map((p) => p.trim()) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/.test(name)) {
    throw bad('the name is empty or has characters other than letters, digits, space, dot, dash, underscore');
  }
  if (protocol !== 'tcp' && protocol !== 'udp') throw bad(`the protocol is tcp or udp, not "${protocol}"`);
  const port = (v: string, what: string): number => {
    if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw bad(`the ${what} is 1..65535, not "${v}"`);
    return Number(v);
  };
  const host = port(hostPort, 'host port');
  const guest = port(guestPort, 'guest port');
  if (guestIp !== '') {
    throw bad("leave the guest IP empty: NAT forwards to the guest's own address (10.0.2.15 on adapter 1)");
  }
  return { name, protocol, hostAddress: hostIp === '' ? '127.0.0.1' : hostIp, hostPort: host, guestPort: guest };
}

function adapterOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

/** Model names VBoxManage uses, as Maru's models. */
const MODEL_ALIASES: Readonly<Record<string, NicModel>> = {
  virtio: 'virtio-net',
  am79c970a: 'pcnet',
  am79c973: 'pcnet',
  '82540em': 'e1000',
  '82543gc': 'e1000',
  '82545em': 'e1000',
};

function modelOption(v: string, option: string): NicModel {
  const lower = v.toLowerCase();
  const model = (NIC_MODELS as readonly string[]).includes(lower) ? (lower as NicModel) : MODEL_ALIASES[lower];
  if (!model) throw new UsageError(`${option} must be one of ${NIC_MODELS.join(', ')}, got "${v}".`);
  return model;
}

/**
 * True when any of `maru modify`'s adapter options is given. Their syntax is checked here, before
 * the VM is looked up (a UsageError, exit status 2); what they do to the VM's adapters, later.
 */
export function hasNicOptions(values: OptionValues): boolean {
  let any = false;
  for (const n of ADAPTERS) {
    const attach = adapterOption(values, `nic${n}`);
    if (attach !== undefined && !/^(nat|none|null|off|(internal|intnet):.*)$/.test(attach)) {
      throw new UsageError(`--nic${n} must be nat, internal:NAME, none or off, got "${attach}".`);
    }
    const type = adapterOption(values, `nic-type${n}`);
    if (type !== undefined) modelOption(type, `--nic-type${n}`);
    const mac = adapterOption(values, `mac${n}`);
    if (mac !== undefined && mac !== 'auto' && !parseMacAddress(mac)) throw badMac(n, mac);
    const cable = adapterOption(values, `cable${n}`);
    if (cable !== undefined && cable !== 'on' && cable !== 'off') {
      throw new UsageError(`--cable${n} must be on or off, got "${cable}".`);
    }
    const rules = values[`nat-pf${n}`];
    for (const text of Array.isArray(rules) ? rules : []) {
      if (text.startsWith('delete:')) {
        if (text === 'delete:') throw new UsageError(`--nat-pf${n} delete:NAME: the rule's NAME is missing.`);
      } else parsePortForwardRule(text, `--nat-pf${n}`);
    }
  }
  for (const k of Object.keys(NIC_MODIFY_OPTIONS)) if (values[k] !== undefined) any = true;
  return any;
}

function badMac(n: number, mac: string): UsageError {
  return new UsageError(
    `--mac${n} must be auto or a unicast MAC address (08:00:27:ab:cd:ef or 080027ABCDEF), got "${mac}".`,
  );
}

/**
 * The VM's adapters after `maru modify`'s adapter options: the whole list as `library.modify`
 * takes it. Bad option values are UsageErrors; adapters the VM does not have, NOT_FOUND.
 */
export function nicsFromOptions(config: VmConfig, values: OptionValues): NicArgs[] {
  const nics: NicConfig[] = config.nics.map((n) => ({ ...n, portForwards: [...n.portForwards] }));
  const removed = new Set<number>();
  const defaultModel: NicModel =
    config.engine === 'v86' ? 'ne2k_pci' : (config.nics[0]?.model ?? OS_PRESETS[config.os].nic);
  for (const n of ADAPTERS) {
    const i = n - 1;
    const attach = adapterOption(values, `nic${n}`);
    if (attach !== undefined) {
      if (attach === 'off') {
        removed.add(i);
        continue;
      }
      let next: Pick<NicConfig, 'attachment' | 'network'>;
      if (attach === 'nat') next = { attachment: 'nat' };
      else if (attach === 'none' || attach === 'null') next = { attachment: 'none' };
      else {
        const m = /^(?:internal|intnet):(.*)$/.exec(attach);
        if (!m) throw new UsageError(`--nic${n} must be nat, internal:NAME, none or off, got "${attach}".`);
        if (!NETWORK_NAME_PATTERN.test(m[1]!)) {
          throw new UsageError(
            `--nic${n} internal:NAME: "${m[1]}" cannot be a network name (letters, digits, dot, dash, underscore; ` +
              'at most 64, starting with a letter or digit).',
          );
        }
        next = { attachment: 'internal', network: m[1]! };
      }
      if (i > nics.length) {
        throw new AppError(
          'NOT_FOUND',
          `VM ${JSON.stringify(config.name)} has ${nics.length} network adapter(s): add adapter ${nics.length + 1} ` +
            `before adapter ${n} (adapters are numbered without gaps).`,
        );
      }
      const base = nics[i] ?? natAdapter(defaultModel);
      const { network: _old, ...rest } = base;
      // Only NAT forwards ports: an adapter moved off NAT drops its rules (as VirtualBox does).
      nics[i] = { ...rest, ...next, portForwards: next.attachment === 'nat' ? base.portForwards : [] };
    }
  }
  const need = (n: number, option: string): NicConfig => {
    const nic = nics[n - 1];
    if (!nic || removed.has(n - 1)) {
      throw new AppError(
        'NOT_FOUND',
        `${option}: VM ${JSON.stringify(config.name)} has no network adapter ${n}; add it with --nic${n} nat.`,
      );
    }
    return nic;
  };
  for (const n of ADAPTERS) {
    const type = adapterOption(values, `nic-type${n}`);
    if (type !== undefined) need(n, `--nic-type${n}`).model = modelOption(type, `--nic-type${n}`);
    const mac = adapterOption(values, `mac${n}`);
    if (mac !== undefined) {
      const nic = need(n, `--mac${n}`);
      if (mac === 'auto') delete nic.mac;
      else {
        const parsed = parseMacAddress(mac);
        if (!parsed) throw badMac(n, mac);
        nic.mac = parsed;
      }
    }
    const cable = adapterOption(values, `cable${n}`);
    if (cable !== undefined) {
      if (cable !== 'on' && cable !== 'off') throw new UsageError(`--cable${n} must be on or off, got "${cable}".`);
      need(n, `--cable${n}`).cableConnected = cable === 'on';
    }
    const rules = values[`nat-pf${n}`];
    for (const text of Array.isArray(rules) ? rules : []) {
      const nic = need(n, `--nat-pf${n}`);
      if (text.startsWith('delete:')) {
        const name = text.slice('delete:'.length);
        const before = nic.portForwards.length;
        nic.portForwards = nic.portForwards.filter((f) => portForwardName(f) !== name);
        if (nic.portForwards.length === before) {
          throw new AppError(
            'NOT_FOUND',
            `--nat-pf${n} delete:${name}: adapter ${n} has no port-forward rule "${name}" ` +
              `(${nic.portForwards.map((f) => `"${portForwardName(f)}"`).join(', ') || 'it has none'}).`,
          );
        }
      } else {
        const rule = parsePortForwardRule(text, `--nat-pf${n}`);
        if (nic.portForwards.some((f) => portForwardName(f) === rule.name)) {
          throw new AppError(
            'ALREADY_EXISTS',
            `--nat-pf${n}: adapter ${n} already has a rule named "${rule.name}"; delete it first (--nat-pf${n} delete:${rule.name}).`,
          );
        }
        nic.portForwards.push({ ...rule, hostAddress: rule.hostAddress ?? '127.0.0.1' });
      }
    }
  }
  if (removed.size > 0) {
    const first = Math.min(...removed);
    for (let i = first; i < nics.length; i++) {
      if (!removed.has(i)) {
        throw new UsageError(
          `--nic${first + 1} off removes adapter ${first + 1}, but adapter ${i + 1} comes after it: remove the last ` +
            `adapters only (--nic${i + 1} off as well), or leave adapter ${first + 1} unattached with --nic${first + 1} none.`,
        );
      }
    }
    nics.length = first;
  }
  return nics;
}

/** `maru show`'s lines for the adapters: one per adapter, one per port-forward rule. */
export function nicRows(vm: VmDetails): [string, string][] {
  const c = vm.config;
  if (c.nics.length === 0) return [['Network', 'no adapters']];
  const v86 = c.engine === 'v86' || (c.engine === 'auto' && OS_PRESETS[c.os].engine === 'v86');
  const rows: [string, string][] = [];
  c.nics.forEach((nic, i) => {
    const note = v86 ? v86AdapterNote(nic, i) : null;
    rows.push([
      `NIC ${i + 1}`,
      `${attachmentText(nic)}, ${nic.model}, MAC ${nicMacAddress(c, i)}${nic.mac ? '' : ' (derived)'}, ` +
        `cable ${nic.cableConnected ? 'connected' : 'unplugged'}${note ? ` — ${note}` : ''}`,
    ]);
    for (const f of nic.portForwards) rows.push([`NIC ${i + 1} rule`, ruleText(f)]);
  });
  return rows;
}

function ruleText(f: PortForward): string {
  return `${portForwardName(f)}: ${f.protocol} ${f.hostAddress}:${f.hostPort} -> guest port ${f.guestPort}`;
}

const NATPF_USAGE = [
  'maru natpf VM [--nic N] list [--json]',
  'maru natpf VM [--nic N] add "NAME,tcp|udp,HOSTIP,HOSTPORT,,GUESTPORT" [--json]',
  'maru natpf VM [--nic N] delete NAME [--json]',
].join('\n       ');

const NATPF_DETAILS =
  "Port forwards of a NAT adapter (--nic N, 1..4, default 1), in VBoxManage's rule format: a running VM forwards\n" +
  'at once and keeps the rule for its next starts; a stopped one gets it at its next start. An empty HOSTIP means\n' +
  '127.0.0.1 (this computer only), 0.0.0.0 every network it is on; the guest IP stays empty. A host port another\n' +
  'program holds is refused.';

function nicNumber(v: string | undefined, what: string): number {
  if (v === undefined) return 1;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_NICS) {
    throw new UsageError(`${what} is an adapter number 1..${MAX_NICS}, got "${v}".`);
  }
  return Number(v);
}

function liveText(r: VmNicResult, now: string, later: string): string {
  return r.live ? `${now} (now, and at its next starts).\n` : `${later}\n`;
}

export function networkCommands(services: ServicesFactory): CliCommand[] {
  return [
    {
      name: 'natpf',
      usage: NATPF_USAGE,
      details: NATPF_DETAILS,
      summary: "List, add or delete a NAT adapter's port forwards (a running VM at once)",
      async run(ctx: CliContext, argv: string[]) {
        const { values, positionals } = parseCommandArgs(argv, {
          json: { type: 'boolean' },
          nic: { type: 'string' },
        });
        const [ref, verb, arg, ...extra] = positionals;
        if (ref === undefined) throw new UsageError('missing VM.');
        if (verb === undefined) throw new UsageError('missing the verb: list, add RULE or delete NAME.');
        if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}".`);
        const given = typeof values.nic === 'string' ? values.nic : undefined;
        const n = nicNumber(given, '--nic');
        const out = (json: unknown, text: string): void => {
          if (values.json) writeJson(ctx, json);
          else ctx.stdout.write(text);
        };
        const { library, vm } = await services(ctx);
        if (verb === 'list') {
          if (arg !== undefined) throw new UsageError(`list: unexpected argument "${arg}".`);
          const c = (await library.show(ref)).config;
          const rules = c.nics.flatMap((nic, i) =>
            given === undefined || i === n - 1
              ? nic.portForwards.map((f) => ({ nic: i + 1, ...f, name: portForwardName(f) }))
              : [],
          );
          out(
            rules,
            rules.length
              ? textTable(
                  ['NIC', 'NAME', 'PROTOCOL', 'HOST IP', 'HOST PORT', 'GUEST PORT'],
                  rules.map((r) => [
                    String(r.nic),
                    r.name,
                    r.protocol,
                    r.hostAddress,
                    String(r.hostPort),
                    String(r.guestPort),
                  ]),
                )
              : `"${c.name}" forwards no ports${given === undefined ? '' : ` on adapter ${n}`}.\n`,
          );
          return;
        }
        if (verb === 'add') {
          if (arg === undefined)
            throw new UsageError('add: missing the rule "NAME,tcp|udp,HOSTIP,HOSTPORT,,GUESTPORT".');
          const rule = parsePortForwardRule(arg, 'add');
          const r = await vm.addPortForward(ref, n - 1, rule);
          const f = r.nic.portForwards.find((x) => portForwardName(x) === rule.name);
          const what = f ? ruleText(f) : rule.name;
          out(
            r,
            liveText(
              r,
              `"${r.name}" adapter ${n} forwards ${what}`,
              `"${r.name}" adapter ${n} will forward ${what} from its next start.`,
            ),
          );
          return;
        }
        if (verb === 'delete' || verb === 'remove') {
          if (arg === undefined)
            throw new UsageError('delete: missing the rule NAME ("maru natpf VM list" shows them).');
          const r = await vm.removePortForward(ref, n - 1, arg);
          out(
            r,
            liveText(
              r,
              `"${r.name}" adapter ${n} no longer forwards rule "${arg}"`,
              `Removed rule "${arg}" of "${r.name}" adapter ${n}.`,
            ),
          );
          return;
        }
        throw new UsageError(`"${verb}" is not a natpf verb; use list, add or delete.`);
      },
    },
    serviceCommand(services, {
      usage: 'maru nic VM N cable on|off [--json]',
      summary: "Plug network adapter N's cable in or pull it (a running VM at once)",
      details:
        'Adapters are numbered 1..4. A running VM sees its link come or go at once and keeps the setting for its next\n' +
        'starts; a stopped one starts with it.',
      async run({ vm }, _ctx, { args: [ref, number, what, state] }) {
        const n = nicNumber(number, 'N');
        if (what !== 'cable') throw new UsageError(`"${what}" is not a nic setting; use "cable on" or "cable off".`);
        if (state !== 'on' && state !== 'off') throw new UsageError(`cable is on or off, got "${state}".`);
        const r = await vm.setLinkState(ref!, n - 1, state === 'on');
        const word = state === 'on' ? 'plugged in' : 'unplugged';
        return {
          json: r,
          text: liveText(
            r,
            `The cable of "${r.name}" adapter ${n} is ${word}`,
            `"${r.name}" adapter ${n} will start with its cable ${word}.`,
          ),
        };
      },
    }),
  ];
}
