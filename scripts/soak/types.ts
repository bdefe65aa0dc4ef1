export interface SoakResult { scenario: string; runs: number; records: number; lost: number; duplicated: number; pass: boolean; notes: string }
