package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd_AWSCLI drives the bundled example with Debian's AWS CLI,
// unmodified, through the endpoint `shoal up` serves: the calls act on the
// real tasks and targets.
func TestEndToEnd_AWSCLI(t *testing.T) {
	ex := newExample(t)
	awsCLI := requireAWSCLI(t)
	up := ex.up(t)
	st := waitSteady(t, up, ex.bin, ex.state)
	if st.AWSEndpoint == "" || st.AWSRegion != "us-east-1" {
		t.Fatalf("status: aws_endpoint %q, aws_region %q; want the endpoint and us-east-1", st.AWSEndpoint, st.AWSRegion)
	}
	env := awsEnvOf(t, ex.bin, ex.state)
	if out, err := exec.Command(ex.bin, "aws-env", "--state-dir", ex.state).Output(); err != nil ||
		!strings.Contains(string(out), "export AWS_ENDPOINT_URL="+st.AWSEndpoint+"\n") || !strings.Contains(string(out), "export AWS_ACCESS_KEY_ID=AKIA") {
		t.Errorf("shoal aws-env: %v\n%s", err, out)
	}
	aws := func(args ...string) (string, error) {
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", st.AWSEndpoint, "--output", "json"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustAWS := func(args ...string) string {
		t.Helper()
		out, err := aws(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	// Scale out the way a script would, and wait as scripts do.
	mustAWS("ecs", "update-service", "--cluster", "catalog", "--service", "api", "--desired-count", "5")
	waitFor(t, up, 120*time.Second, "5 healthy targets in describe-target-health", func() bool {
		tgs := mustAWS("elbv2", "describe-target-groups", "--names", "api")
		var groups struct {
			TargetGroups []struct{ TargetGroupArn string }
		}
		if json.Unmarshal([]byte(tgs), &groups) != nil || len(groups.TargetGroups) != 1 {
			t.Fatalf("describe-target-groups --names api:\n%s", tgs)
		}
		var health struct {
			TargetHealthDescriptions []struct{ TargetHealth struct{ State string } }
		}
		out := mustAWS("elbv2", "describe-target-health", "--target-group-arn", groups.TargetGroups[0].TargetGroupArn)
		if err := json.Unmarshal([]byte(out), &health); err != nil {
			t.Fatalf("describe-target-health: %v\n%s", err, out)
		}
		n := 0
		for _, d := range health.TargetHealthDescriptions {
			if d.TargetHealth.State == "healthy" {
				n++
			}
		}
		return n == 5 && len(health.TargetHealthDescriptions) == 5
	})
	mustAWS("ecs", "wait", "services-stable", "--cluster", "catalog", "--services", "api")
	if n := len(serviceTasks(shoalPS(t, ex.bin, ex.state), "api")); n != 5 {
		t.Errorf("shoal ps lists %d api tasks after update-service --desired-count 5", n)
	}

	// Stop one task: the service replaces it, and describe-tasks shows both.
	var listed struct{ TaskArns []string }
	if err := json.Unmarshal([]byte(mustAWS("ecs", "list-tasks", "--cluster", "catalog", "--service-name", "api")), &listed); err != nil || len(listed.TaskArns) != 5 {
		t.Fatalf("list-tasks: %v, %d tasks; want 5", err, len(listed.TaskArns))
	}
	victim := listed.TaskArns[0]
	mustAWS("ecs", "stop-task", "--cluster", "catalog", "--task", victim, "--reason", "rehearsal")
	waitFor(t, up, 90*time.Second, "a replacement RUNNING and the victim STOPPED", func() bool {
		var tasks struct {
			Tasks []struct {
				TaskArn, LastStatus, StopCode, StoppedReason string
				Containers                                   []struct {
					NetworkBindings []struct{ HostPort int }
				}
			}
		}
		args := []string{"ecs", "describe-tasks", "--cluster", "catalog", "--tasks", victim}
		var now struct{ TaskArns []string }
		if json.Unmarshal([]byte(mustAWS("ecs", "list-tasks", "--cluster", "catalog", "--service-name", "api")), &now) != nil {
			return false
		}
		args = append(args, now.TaskArns...)
		if json.Unmarshal([]byte(mustAWS(args...)), &tasks) != nil {
			return false
		}
		stopped, running := false, 0
		for _, task := range tasks.Tasks {
			switch {
			case task.TaskArn == victim:
				stopped = task.LastStatus == "STOPPED" && task.StopCode == "UserInitiated" && task.StoppedReason == "rehearsal"
			case task.LastStatus == "RUNNING":
				if len(task.Containers) == 1 && len(task.Containers[0].NetworkBindings) == 1 && task.Containers[0].NetworkBindings[0].HostPort > 0 {
					running++
				}
			}
		}
		return stopped && running == 5
	})

	// A request signed with a wrong secret is refused as AWS would.
	bad := exec.Command(awsCLI, "--endpoint-url", st.AWSEndpoint, "ecs", "list-clusters")
	bad.Env = append(env, "AWS_SECRET_ACCESS_KEY=wrong-secret-wrong-secret-wrong-secret00")
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "InvalidSignatureException") {
		t.Errorf("list-clusters with a wrong secret: err %v, output:\n%s\nwant InvalidSignatureException", err, out)
	}
	up.stop(t)
}

// requireAWSCLI returns the aws command: $SHOAL_TEST_AWS_CLI (.ci/run
// sets Debian's, /usr/bin/aws), else the one on PATH. In CI it must be
// there.
func requireAWSCLI(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("SHOAL_TEST_AWS_CLI"); path != "" {
		return path
	}
	path, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("SHOAL_TEST_REDIS_URL") != "" {
			t.Fatal("aws is not on PATH, and CI must run this test: install it (apt-get install awscli), as .ci/run does")
		}
		t.Skip("this test drives shoal with the AWS CLI: install it (apt-get install awscli) to run it")
	}
	return path
}

// awsEnvOf is the environment `shoal aws-env` gives, on a clean one: no
// AWS profile or credentials of the machine's leak in.
func awsEnvOf(t *testing.T, bin, state string) []string {
	t.Helper()
	out, err := exec.Command(bin, "aws-env", "--json", "--state-dir", state).Output()
	if err != nil {
		t.Fatalf("shoal aws-env: %v", err)
	}
	var vars map[string]string
	if err := json.Unmarshal(out, &vars); err != nil {
		t.Fatalf("shoal aws-env --json: %v\n%s", err, out)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER="}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}
