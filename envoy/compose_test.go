package envoy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of a compose file these checks read.
type composeFile struct {
	Services map[string]struct {
		Image   string   `json:"image"`
		Volumes []string `json:"volumes"`
		Build   *struct {
			Context    string `json:"context"`
			Dockerfile string `json:"dockerfile"`
		} `json:"build"`
	} `json:"services"`
}

var envoyImage = regexp.MustCompile(`^envoyproxy/envoy:v1\.([0-9]+)\.([0-9]+)(@sha256:[0-9a-f]{64})?$`)

// TestComposeFiles checks what no Docker engine here can: both compose files
// pin the same Envoy >= 1.39, mount the .wasm where envoy.yaml loads it from,
// and build images from Dockerfiles that exist.
func TestComposeFiles(t *testing.T) {
	root := repoRoot(t)
	images := map[string]bool{}
	for _, name := range []string{"docker-compose.yaml", "docker-compose.e2e.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, "envoy", name))
		if err != nil {
			t.Fatal(err)
		}
		var c composeFile
		if err := yaml.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		envoy, ok := c.Services["envoy"]
		if !ok {
			t.Fatalf("%s: no envoy service", name)
		}
		m := envoyImage.FindStringSubmatch(envoy.Image)
		if m == nil {
			t.Fatalf("%s: envoy image %q is not pinned to envoyproxy/envoy:v1.X.Y", name, envoy.Image)
		}
		if minor, _ := strconv.Atoi(m[1]); minor < 39 {
			t.Errorf("%s: Envoy 1.%d < 1.39 (poll_oneoff aborts Go plugins; see docs/envoy.md)", name, minor)
		}
		images[envoy.Image] = true
		mountsWasm := false
		for _, v := range envoy.Volumes {
			if strings.Contains(v, ":/etc/svcauth/svcauth.wasm") {
				mountsWasm = true
			}
		}
		if !mountsWasm {
			t.Errorf("%s: envoy does not mount the .wasm at /etc/svcauth/svcauth.wasm (envoy.yaml's vm_config.code)", name)
		}
		for svc, s := range c.Services {
			if s.Build == nil {
				continue
			}
			df := filepath.Join(root, "envoy", s.Build.Context, s.Build.Dockerfile)
			if _, err := os.Stat(df); err != nil {
				t.Errorf("%s: service %s builds from %s: %v", name, svc, s.Build.Dockerfile, err)
			}
		}
	}
	if len(images) != 1 {
		t.Errorf("the compose files pin different Envoy images: %v", images)
	}
	for _, df := range []string{"Dockerfile.issuer", "Dockerfile.wasm", "Dockerfile.echo"} {
		b, err := os.ReadFile(filepath.Join(root, "build", df))
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		switch df {
		case "Dockerfile.wasm":
			if !strings.Contains(s, "FROM scratch") || !strings.Contains(s, "plugin.wasm") {
				t.Errorf("%s must be FROM scratch with plugin.wasm", df)
			}
		default:
			if !strings.Contains(s, "CGO_ENABLED=0") || !regexp.MustCompile(`(?m)^USER [1-9][0-9]*`).MatchString(s) ||
				!regexp.MustCompile(`(?m)^FROM gcr\.io/distroless/static-debian[0-9]+:nonroot$`).MatchString(s) {
				t.Errorf("%s must build a static binary (CGO_ENABLED=0) onto a pinned distroless static base, as a non-root USER", df)
			}
		}
	}
}

// TestDockerfilesCopyWhatTheBinariesImport guards the Dockerfiles' explicit
// COPY lists (and their .dockerignore allow-lists): every package of this
// module that a binary imports must be inside a copied directory, or
// `docker build` fails on a machine this test can warn first.
func TestDockerfilesCopyWhatTheBinariesImport(t *testing.T) {
	root := repoRoot(t)
	for df, pkg := range map[string]string{
		"Dockerfile.issuer": "./issuer/cmd/svcauth",
		"Dockerfile.echo":   "./e2e/cmd/svcauth-echo",
	} {
		cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		docker, err := os.ReadFile(filepath.Join(root, "build", df))
		if err != nil {
			t.Fatal(err)
		}
		ignore, err := os.ReadFile(filepath.Join(root, "build", df+".dockerignore"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range strings.Fields(string(out)) {
			rel, ok := strings.CutPrefix(p, "github.com/svcauth/svcauth/")
			if !ok {
				continue
			}
			top := strings.SplitN(rel, "/", 2)[0] + "/"
			if !regexp.MustCompile(`(?m)^COPY ` + regexp.QuoteMeta(top) + ` `).Match(docker) {
				t.Errorf("%s: %s imports %s, but the Dockerfile does not COPY %s", df, pkg, p, top)
			}
			if !regexp.MustCompile(`(?m)^!` + regexp.QuoteMeta(top) + `$`).Match(ignore) {
				t.Errorf("%s.dockerignore: %s imports %s, but %s is not in the build context (add !%s)", df, pkg, p, top, top)
			}
		}
	}
}
