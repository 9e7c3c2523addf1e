/**
 * A non-recursive JSON syntax check that runs before `JSON.parse`: it finds the first syntax error
 * with its line and column, and refuses nesting deeper than a fixed cap, so a file of a million
 * `[` cannot exhaust the stack of anything that walks the parsed value later.
 */

/** Deepest nesting of arrays and objects accepted; real glTF files stay below 20. */
export const MAX_JSON_DEPTH = 128;

export type JsonScanProblem = {
  kind: 'syntax' | 'depth';
  /** Index into the text (UTF-16 code units). */
  position: number;
  line: number;
  column: number;
  message: string;
};

const STRING_RUN = /[^"\\\u0000-\u001f]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

// What the scanner expects next.
const enum Expect {
  Value, // any value
  ValueOrEnd, // a value or `]` (right after `[`)
  KeyOrEnd, // a key or `}` (right after `{`)
  Key, // a key (after `,` in an object)
  Colon,
  CommaOrEnd, // `,` or the closing bracket of the current container
  Done, // only whitespace may follow
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function describeChar(text: string, i: number): string {
  if (i >= text.length) return 'end of input';
  const c = text.codePointAt(i)!;
  if (c < 0x20 || c === 0x7f) return `character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${String.fromCodePoint(c)}'`;
}

/** Returns the first problem in `text`, or undefined when it is valid JSON no deeper than `maxDepth`. */
export function scanJson(text: string, maxDepth = MAX_JSON_DEPTH): JsonScanProblem | undefined {
  const stack: number[] = []; // 0x5b '[' or 0x7b '{'
  let expect: Expect = Expect.Value;
  let i = 0;
  const n = text.length;

  const fail = (kind: JsonScanProblem['kind'], position: number, message: string): JsonScanProblem => {
    let line = 1;
    let lineStart = 0;
    for (let k = text.indexOf('\n'); k !== -1 && k < position; k = text.indexOf('\n', k + 1)) {
      line++;
      lineStart = k + 1;
    }
    return { kind, position, line, column: position - lineStart + 1, message };
  };

  // Scans a string starting at text[i] === '"'; returns the index after it or a problem.
  const scanString = (): number | JsonScanProblem => {
    let k = i + 1;
    for (;;) {
      STRING_RUN.lastIndex = k;
      STRING_RUN.test(text);
      k = STRING_RUN.lastIndex;
      if (k >= n) return fail('syntax', i, 'unterminated string');
      const c = text.charCodeAt(k);
      if (c === 0x22) return k + 1;
      if (c === 0x5c) {
        ESCAPE.lastIndex = k;
        if (!ESCAPE.test(text)) return fail('syntax', k, 'invalid escape sequence in string');
        k = ESCAPE.lastIndex;
        continue;
      }
      return fail('syntax', k, `unescaped control ${describeChar(text, k)} in string`);
    }
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    switch (expect) {
      case Expect.Done:
        return fail('syntax', i, `unexpected ${describeChar(text, i)} after the end of the JSON value`);
      case Expect.Colon:
        if (c !== 0x3a) return fail('syntax', i, `expected ':' after property name, found ${describeChar(text, i)}`);
        i++;
        expect = Expect.Value;
        continue;
      case Expect.CommaOrEnd: {
        const top = stack[stack.length - 1];
        if (c === 0x2c) {
          i++;
          expect = top === 0x7b ? Expect.Key : Expect.Value;
          continue;
        }
        if ((top === 0x5b && c === 0x5d) || (top === 0x7b && c === 0x7d)) {
          stack.pop();
          i++;
          expect = stack.length ? Expect.CommaOrEnd : Expect.Done;
          continue;
        }
        const close = top === 0x7b ? '}' : ']';
        return fail('syntax', i, `expected ',' or '${close}', found ${describeChar(text, i)}`);
      }
      case Expect.KeyOrEnd:
      case Expect.Key: {
        if (c === 0x7d && expect === Expect.KeyOrEnd) {
          stack.pop();
          i++;
          expect = stack.length ? Expect.CommaOrEnd : Expect.Done;
          continue;
        }
        if (c !== 0x22) return fail('syntax', i, `expected a property name in double quotes, found ${describeChar(text, i)}`);
        const end = scanString();
        if (typeof end !== 'number') return end;
        i = end;
        expect = Expect.Colon;
        continue;
      }
      case Expect.Value:
      case Expect.ValueOrEnd: {
        if (c === 0x5d && expect === Expect.ValueOrEnd) {
          stack.pop();
          i++;
          expect = stack.length ? Expect.CommaOrEnd : Expect.Done;
          continue;
        }
        if (c === 0x5b || c === 0x7b) {
          if (stack.length >= maxDepth) {
            return fail('depth', i, `JSON is nested more than ${maxDepth} levels deep`);
          }
          stack.push(c);
          i++;
          expect = c === 0x5b ? Expect.ValueOrEnd : Expect.KeyOrEnd;
          continue;
        }
        let end: number | JsonScanProblem;
        if (c === 0x22) {
          end = scanString();
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          NUMBER.lastIndex = i;
          end = NUMBER.test(text) ? NUMBER.lastIndex : fail('syntax', i, 'invalid number');
        } else if (text.startsWith('true', i)) {
          end = i + 4;
        } else if (text.startsWith('false', i)) {
          end = i + 5;
        } else if (text.startsWith('null', i)) {
          end = i + 4;
        } else {
          end = fail('syntax', i, `expected a value, found ${describeChar(text, i)}`);
        }
        if (typeof end !== 'number') return end;
        i = end;
        expect = stack.length ? Expect.CommaOrEnd : Expect.Done;
        continue;
      }
    }
  }
  if (expect !== Expect.Done) return fail('syntax', n, 'unexpected end of input');
  return undefined;
}
