// A small, strict XML reader for machine-written documents (OVF descriptors): elements,
// attributes, text, CDATA, comments and the five named entities plus numeric references. No
// DOCTYPE (so no entity expansion), no external anything; malformed input is an error that says
// where. Names keep their prefixes ("ovf:id"); `local()` strips one.

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text (children's text not included), entities resolved, trimmed. */
  readonly text: string;
}

export class XmlError extends Error {}

const NAMED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(raw: string, at: number): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, ref: string | undefined) => {
    if (ref === undefined) throw new XmlError(`a bare "&" near offset ${at}`);
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    const v = NAMED[ref];
    if (v === undefined) throw new XmlError(`unknown entity ${m} near offset ${at}`);
    return v;
  });
}

/** The name without its namespace prefix. */
export function local(name: string): string {
  const i = name.indexOf(':');
  return i < 0 ? name : name.slice(i + 1);
}

/** Parses one document; throws XmlError with the offset when it is not well-formed. */
export function parseXml(source: string, maxBytes = 4 * 1024 * 1024): XmlElement {
  if (source.length > maxBytes) throw new XmlError(`the document is larger than ${maxBytes} bytes`);
  let i = 0;
  const stack: { name: string; attributes: Record<string, string>; children: XmlElement[]; text: string }[] = [];
  let root: XmlElement | null = null;
  const NAME = /[A-Za-z_][\w.:-]*/y;
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(source);
    if (!m) throw new XmlError(`a name expected at offset ${i}`);
    i += m[0].length;
    return m[0];
  };
  const skipSpace = (): void => {
    while (i < source.length && /\s/.test(source[i]!)) i++;
  };
  const expect = (s: string): void => {
    if (!source.startsWith(s, i)) throw new XmlError(`"${s}" expected at offset ${i}`);
    i += s.length;
  };
  if (source.charCodeAt(0) === 0xfeff) i = 1;
  while (i < source.length) {
    if (source.startsWith('<?', i)) {
      const end = source.indexOf('?>', i);
      if (end < 0) throw new XmlError(`an unterminated processing instruction at offset ${i}`);
      i = end + 2;
    } else if (source.startsWith('<!--', i)) {
      const end = source.indexOf('-->', i);
      if (end < 0) throw new XmlError(`an unterminated comment at offset ${i}`);
      i = end + 3;
    } else if (source.startsWith('<![CDATA[', i)) {
      const end = source.indexOf(']]>', i);
      if (end < 0 || stack.length === 0) throw new XmlError(`a misplaced or unterminated CDATA at offset ${i}`);
      stack.at(-1)!.text += source.slice(i + 9, end);
      i = end + 3;
    } else if (source.startsWith('<!', i)) {
      throw new XmlError(`a DOCTYPE or declaration at offset ${i} (not accepted)`);
    } else if (source.startsWith('</', i)) {
      i += 2;
      const name = readName();
      skipSpace();
      expect('>');
      const open = stack.pop();
      if (!open || open.name !== name) throw new XmlError(`</${name}> does not close <${open?.name ?? '(none)'}>`);
      const element: XmlElement = { ...open, text: open.text.trim() };
      if (stack.length === 0) {
        if (root) throw new XmlError('more than one root element');
        root = element;
      } else stack.at(-1)!.children.push(element);
    } else if (source[i] === '<') {
      i++;
      const name = readName();
      const attributes: Record<string, string> = {};
      for (;;) {
        skipSpace();
        if (source.startsWith('/>', i) || source[i] === '>') break;
        const attr = readName();
        skipSpace();
        expect('=');
        skipSpace();
        const quote = source[i];
        if (quote !== '"' && quote !== "'") throw new XmlError(`a quoted value expected at offset ${i}`);
        const end = source.indexOf(quote, i + 1);
        if (end < 0) throw new XmlError(`an unterminated attribute value at offset ${i}`);
        if (attr in attributes) throw new XmlError(`attribute ${attr} repeated at offset ${i}`);
        attributes[attr] = decode(source.slice(i + 1, end), i);
        i = end + 1;
      }
      const selfClosing = source.startsWith('/>', i);
      i += selfClosing ? 2 : 1;
      if (selfClosing) {
        const element: XmlElement = { name, attributes, children: [], text: '' };
        if (stack.length === 0) {
          if (root) throw new XmlError('more than one root element');
          root = element;
        } else stack.at(-1)!.children.push(element);
      } else {
        if (root) throw new XmlError('more than one root element');
        stack.push({ name, attributes, children: [], text: '' });
      }
    } else {
      const next = source.indexOf('<', i);
      const end = next < 0 ? source.length : next;
      const text = source.slice(i, end);
      if (stack.length === 0) {
        if (text.trim() !== '') throw new XmlError(`text outside the root element at offset ${i}`);
      } else stack.at(-1)!.text += decode(text, i);
      i = end;
    }
  }
  if (stack.length > 0) throw new XmlError(`<${stack.at(-1)!.name}> is never closed`);
  if (!root) throw new XmlError('no root element');
  return root;
}

/** Children of `el` whose local name is `name`. */
export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => local(c.name) === name);
}

/** The first child of `el` with local name `name`, or undefined. */
export function childNamed(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => local(c.name) === name);
}

/** An attribute by local name, whatever its prefix (ovf:id, id). */
export function attr(el: XmlElement, name: string): string | undefined {
  for (const [k, v] of Object.entries(el.attributes)) if (local(k) === name) return v;
  return undefined;
}

/** Escapes text or an attribute value for writing XML. */
export function xmlEscape(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]!};`);
}
