package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/shoalhq/shoal/internal/admin"
	"github.com/shoalhq/shoal/internal/agent"
	"github.com/shoalhq/shoal/internal/awsapi"
	"github.com/shoalhq/shoal/internal/compile"
	"github.com/shoalhq/shoal/internal/store"
)

// awsCredentialsFile holds, in the state directory, the access key that
// the AWS API endpoint accepts (mode 0600).
const awsCredentialsFile = "aws-credentials.json"

// awsEndpoint is the AWS API endpoint `shoal up` serves.
type awsEndpoint struct {
	*endpoint
	URL string
	// Region is the region requests must be signed for.
	Region string
}

// listenAWS binds the AWS API's address and serves it for b, with the
// access key recorded in the state directory (made on first use).
func listenAWS(cfg compile.AWSAPI, dir string, b awsapi.Backend, log *slog.Logger) (*awsEndpoint, error) {
	creds, err := awsapi.LoadOrCreateCredentials(filepath.Join(dir, awsCredentialsFile))
	if err != nil {
		return nil, fmt.Errorf("AWS API: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("AWS API: %w (change aws_api.address in the stack file, or set aws_api.enabled: false)", err)
	}
	h := awsapi.Handler(b, awsapi.Config{Region: cfg.Region, Credentials: creds}, log)
	e := serveEndpoint(ln, h, log)
	return &awsEndpoint{endpoint: e, URL: "http://" + e.addr, Region: cfg.Region}, nil
}

// Close stops serving; calls in flight get until ctx is done.
func (e *awsEndpoint) Close(ctx context.Context) {
	if e != nil {
		e.endpoint.Close(ctx)
	}
}

// Status is the agent's, with the AWS endpoint.
func (b backend) Status() agent.Status {
	st := b.Agent.Status()
	if b.aws != nil {
		st.AWSEndpoint, st.AWSRegion = b.aws.URL, b.aws.Region
	}
	if b.metrics != nil {
		st.Metrics = b.metrics.URL
	}
	if b.dashboard != nil {
		st.Dashboard = b.dashboard.URL
	}
	return st
}

// awsEnv is what `shoal aws-env` prints.
type awsEnv struct {
	AccessKeyID     string `json:"AWS_ACCESS_KEY_ID"`
	SecretAccessKey string `json:"AWS_SECRET_ACCESS_KEY"`
	Region          string `json:"AWS_DEFAULT_REGION"`
	EndpointURL     string `json:"AWS_ENDPOINT_URL"`
}

func runAWSEnv(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "aws-env", "[--state-dir DIR] [--json]")
	dir := stateDirFlag(fs, e)
	jsonOut := fs.Bool("json", false, "print JSON instead of shell lines")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := store.CheckDir(*dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	st, err := admin.NewClient(filepath.Join(*dir, store.SocketName)).Status(ctx)
	if err != nil {
		return err
	}
	if st.AWSEndpoint == "" {
		return fmt.Errorf("the running stack %s does not serve the AWS API: it has aws_api.enabled: false", st.Stack)
	}
	path := filepath.Join(*dir, awsCredentialsFile)
	creds, err := awsapi.LoadCredentials(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s does not exist: shoal up makes it when it starts the AWS API", path)
	}
	if err != nil {
		return err
	}
	v := awsEnv{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Region: st.AWSRegion, EndpointURL: st.AWSEndpoint}
	if *jsonOut {
		return printJSON(e, v)
	}
	fmt.Fprintf(e.stdout, "export AWS_ACCESS_KEY_ID=%s\n", v.AccessKeyID)
	fmt.Fprintf(e.stdout, "export AWS_SECRET_ACCESS_KEY=%s\n", v.SecretAccessKey)
	fmt.Fprintf(e.stdout, "export AWS_DEFAULT_REGION=%s\n", v.Region)
	fmt.Fprintf(e.stdout, "export AWS_ENDPOINT_URL=%s\n", v.EndpointURL)
	fmt.Fprintf(e.stdout, "# Run: eval \"$(shoal aws-env)\". AWS CLI before 2.13 ignores AWS_ENDPOINT_URL: pass --endpoint-url \"$AWS_ENDPOINT_URL\".\n")
	return nil
}
