package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/dashboard"
)

// dashboardEndpoint is the web dashboard `shoal up` serves.
type dashboardEndpoint struct {
	*endpoint
	d *dashboard.Server
	// URL opens the dashboard: its address, with the port chosen for
	// port 0, and the token.
	URL string
}

// listenDashboard binds the dashboard's address and serves it from b,
// behind a new random token.
func listenDashboard(cfg compile.Dashboard, b dashboard.Backend, log *slog.Logger) (*dashboardEndpoint, error) {
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w (change dashboard.address in the stack file, port 0 picks a free one; or run shoal up --no-dashboard)", err)
	}
	token := dashboard.NewToken()
	d := dashboard.New(b, dashboard.Options{Token: token})
	e := serveEndpoint(ln, d, log)
	return &dashboardEndpoint{endpoint: e, d: d, URL: "http://" + e.addr + "/?token=" + token}, nil
}

// Close ends the dashboard's event streams, then stops serving.
func (e *dashboardEndpoint) Close(ctx context.Context) {
	if e != nil {
		e.d.Close()
		e.endpoint.Close(ctx)
	}
}

// The backend is what the dashboard shows and drives.
var _ dashboard.Backend = backend{}
