import { expect } from 'chai';
import { csvCell, toCsv } from './csv.js';

describe('CSV', () => {
  it('writes a header and one CRLF-terminated line per row', () => {
    const csv = toCsv(
      [
        { header: 'repository', value: (r: { repository: string; pulls: number }) => r.repository },
        { header: 'pulls', value: (r: { repository: string; pulls: number }) => r.pulls },
      ],
      [
        { repository: 'library/nginx', pulls: 12 },
        { repository: 'a,b "c"', pulls: 0 },
      ],
    );
    expect(csv).to.equal('repository,pulls\r\nlibrary/nginx,12\r\n"a,b ""c""",0\r\n');
  });

  it('neutralises text that a spreadsheet would run as a formula', () => {
    expect(csvCell('=HYPERLINK("http://x","y")')).to.equal(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvCell('+1')).to.equal("'+1");
    expect(csvCell('-2+3')).to.equal("'-2+3");
    expect(csvCell('@SUM(A1)')).to.equal("'@SUM(A1)");
    expect(csvCell('\tcmd')).to.equal("'\tcmd");
    expect(csvCell('\r=1')).to.equal(`"'\r=1"`);
    expect(csvCell('not-specified')).to.equal('not-specified');
  });

  it('writes numbers and missing values as they are', () => {
    expect(csvCell(-3)).to.equal('-3');
    expect(csvCell(null)).to.equal('');
  });
});
