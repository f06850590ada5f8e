import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './service.mjs';

/**
 * The raw-SQL baseline runs exactly the statement a repository method sends: the method's
 * `$queryRaw` template is read from the source, and every `${expression}` becomes $1, $2, … in
 * order, as Prisma does (raw fragments are inlined). So the baseline follows the repositories when
 * they change, and `paramsFor` evaluates the same expressions with the bench's values.
 */
export function repositoryQuery(file, method, rawFragments) {
  const source = readFileSync(path.join(ROOT, file), 'utf8');
  const start = source.search(new RegExp(`\\basync ${method}\\(`));
  if (start < 0) throw new Error(`${file}: no method ${method}()`);
  const tick = source.indexOf('$queryRaw', start);
  const open = source.indexOf('`', tick);
  const { parts, expressions } = parseTemplate(source, open + 1);
  let sql = parts[0];
  const parameters = [];
  expressions.forEach((expression, index) => {
    if (expression in rawFragments) sql += rawFragments[expression];
    else {
      parameters.push(expression);
      sql += `$${parameters.length}`;
    }
    sql += parts[index + 1];
  });
  return {
    sql: sql.replace(/\s+/g, ' ').trim(),
    paramsFor(variables) {
      const names = Object.keys(variables);
      return parameters.map((expression) => new Function(...names, `return (${expression});`)(...names.map((name) => variables[name])));
    },
  };
}

function parseTemplate(source, from) {
  const parts = [];
  const expressions = [];
  let text = '';
  let i = from;
  for (;;) {
    const ch = source[i];
    if (ch === undefined) throw new Error('unterminated template');
    if (ch === '\\') {
      text += source[i + 1];
      i += 2;
    } else if (ch === '`') {
      parts.push(text);
      return { parts, expressions };
    } else if (ch === '$' && source[i + 1] === '{') {
      parts.push(text);
      text = '';
      let depth = 1;
      let j = i + 2;
      while (depth > 0) {
        if (source[j] === '{') depth++;
        else if (source[j] === '}') depth--;
        j++;
      }
      expressions.push(source.slice(i + 2, j - 1).trim());
      i = j;
    } else {
      text += ch;
      i++;
    }
  }
}
