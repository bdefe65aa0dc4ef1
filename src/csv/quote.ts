/** Quote a CSV field only when it needs it (RFC 4180): the generator's rows and the rejects file. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
