// Formula-safe CSV, shared by browse's downloads and the command-line reports.
export * from './csv.js';
