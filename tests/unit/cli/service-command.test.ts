// The usage line is where a `maru` command's name and positionals are written once
// (src-main/cli/service-command.ts): every real command's line parses, and argument counts
// are checked against it.
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../../src-main/cli/run-cli';
import { parseUsage } from '../../../src-main/cli/service-command';

describe('maru usage lines', () => {
  it('name the command and its positionals, up to the first option', () => {
    expect(parseUsage('maru rename VM NEW-NAME [--json]')).toEqual({ name: 'rename', positionals: ['VM', 'NEW-NAME'] });
    expect(parseUsage('maru attach-iso VM PATH')).toEqual({ name: 'attach-iso', positionals: ['VM', 'PATH'] });
    expect(parseUsage('maru create --name NAME [--os dos]')).toEqual({ name: 'create', positionals: [] });
    expect(() => parseUsage('rename VM')).toThrow(/maru COMMAND/);
  });

  it('of every command give that command its name, each name once', () => {
    const commands = allCommands();
    for (const c of commands) expect(parseUsage(c.usage).name).toBe(c.name);
    expect(new Set(commands.map((c) => c.name)).size).toBe(commands.length);
  });
});
