package nomad

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/hashicorp/nomad/api"
)

// registration is what nomadService gives a template, as Nomad's
// template runner does: an address and a port per allocation.
type registration struct {
	Address string
	Port    int
}

// render executes a task's template as Nomad's template runner would
// (consul-template is text/template with functions of its own), with two
// registrations of every service at made-up addresses.
func render(t *testing.T, tmpl *api.Template) string {
	t.Helper()
	funcs := template.FuncMap{
		"nomadService": func(name string) []registration {
			return []registration{{"10.0.0.1", 20001}, {"10.0.0.2", 20002}}
		},
		"env": func(name string) string { return "25000" },
	}
	tp, err := template.New(*tmpl.DestPath).Funcs(funcs).Parse(*tmpl.EmbeddedTmpl)
	if err != nil {
		t.Fatalf("template %s does not parse: %v", *tmpl.DestPath, err)
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, nil); err != nil {
		t.Fatalf("template %s does not render: %v", *tmpl.DestPath, err)
	}
	return b.String()
}

// TestTemplates_Render renders every template of every exported job: the
// environment files give each placeholder the first registration, and
// each balancer's nginx.conf passes `nginx -t` when nginx is installed.
func TestTemplates_Render(t *testing.T) {
	nginx, _ := exec.LookPath("nginx")
	checked := 0
	for _, file := range stacks(t) {
		job := decode(t, exportFile(t, file).Data)
		for _, g := range job.TaskGroups {
			for _, task := range g.Tasks {
				for _, tmpl := range task.Templates {
					out := render(t, tmpl)
					switch *tmpl.DestPath {
					case "local/shoal-services.env":
						checkEnvFile(t, file, out)
					case "local/nginx/nginx.conf":
						if strings.Contains(out, "{{") {
							t.Errorf("%s: rendered nginx.conf still holds a template action:\n%s", file, out)
						}
						if nginx != "" {
							nginxTest(t, nginx, fmt.Sprintf("%s %s", file, *g.Name), out)
							checked++
						}
					default:
						t.Errorf("%s: unexpected template %s", file, *tmpl.DestPath)
					}
				}
			}
		}
	}
	if nginx == "" {
		t.Log("nginx is not installed (apt-get install nginx-light): the balancers' configurations were rendered but not checked with nginx -t")
	} else if checked == 0 {
		t.Error("checked no nginx.conf, want every balancer's")
	}
}

// checkEnvFile checks an environment template's output: KEY="VALUE"
// lines in which every placeholder became the first registration.
func checkEnvFile(t *testing.T, file, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok || key == "" || !strings.HasPrefix(value, `"`) || !strings.HasSuffix(value, `"`) {
			t.Errorf("%s: env line %q is not KEY=\"VALUE\"", file, line)
		}
		if strings.Contains(value, "${services.") || strings.Contains(value, "10.0.0.2") || !strings.Contains(value, "10.0.0.1") && !strings.Contains(value, "20001") {
			t.Errorf("%s: env line %q does not name the first registration", file, line)
		}
	}
}

// nginxTest runs nginx -t on a rendered configuration, in a folder of its
// own, with its messages on stderr.
func nginxTest(t *testing.T, nginx, what, conf string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte("pid "+filepath.Join(dir, "nginx.pid")+";\n"+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(nginx, "-t", "-q", "-e", "stderr", "-p", dir, "-c", path).CombinedOutput()
	if err != nil {
		t.Errorf("%s: nginx -t refuses the balancer's configuration: %v\n%s\n%s", what, err, out, conf)
	}
}
