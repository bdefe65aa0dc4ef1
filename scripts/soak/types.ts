export interface SoakResult {
  scenario: string;
  /** Which broker the scenario ran against (default: the embedded broker). */
  broker?: string;
  runs: number;
  records: number;
  lost: number;
  duplicated: number;
  pass: boolean;
  notes: string;
}
