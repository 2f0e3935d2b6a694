// Translating rule results into UI text: a FieldProblem's code becomes `wizard.errors.<field>.<code>`.
import type { TFunction } from 'i18next';
import type { FieldProblem } from './vm-rules';

export function problemText(t: TFunction, field: string, p: FieldProblem | undefined): string | undefined {
  return p ? t(`wizard.errors.${field}.${p.code}`, p.values ?? {}) : undefined;
}
