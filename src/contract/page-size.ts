/** Page sizes above the maximum are treated as the maximum (CONTRACT §4); absent means the default. */
export function resolvePageSize(requested: number | undefined, defaults: { default: number; max: number }): number {
  return Math.min(requested ?? defaults.default, defaults.max);
}
