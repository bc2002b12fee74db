package spec

import "testing"

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		lo, hi  int
		wantErr string
	}{
		{in: "49152-65535", lo: 49152, hi: 65535},
		{in: "1024-1024", lo: 1024, hi: 1024},
		{in: " 20000 - 20999 ", lo: 20000, hi: 20999},
		{in: "", wantErr: `port range "" must be written first-last, like 49152-65535`},
		{in: "8000", wantErr: `port range "8000" must be written first-last, like 49152-65535`},
		{in: "a-b", wantErr: `port range "a-b" must be written first-last, like 49152-65535`},
		{in: "2000-", wantErr: `port range "2000-" must be written first-last, like 49152-65535`},
		{in: "-1-2000", wantErr: `port range "-1-2000" must be written first-last, like 49152-65535`},
		{in: "80-90", wantErr: `port range "80-90" must be within 1024-65535`},
		{in: "1023-2000", wantErr: `port range "1023-2000" must be within 1024-65535`},
		{in: "60000-65536", wantErr: `port range "60000-65536" must be within 1024-65535`},
		{in: "3000-2000", wantErr: `port range "3000-2000" ends before it starts: write the lower port first`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			lo, hi, err := ParsePortRange(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if lo != tt.lo || hi != tt.hi || gotErr != tt.wantErr {
				t.Errorf("got %d, %d, %q; want %d, %d, %q", lo, hi, gotErr, tt.lo, tt.hi, tt.wantErr)
			}
		})
	}
}
