package debug

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestPodSecurityProblem(t *testing.T) {
	for level, refused := range map[string]bool{"": false, "privileged": false, "baseline": true, "restricted": true} {
		err := PodSecurityProblem("ns", level)
		if (err != nil) != refused {
			t.Errorf("%q: got %v, want refused=%v", level, err, refused)
			continue
		}
		if err != nil && (ExitCode(err) != ExitPodSecurity || !strings.Contains(err.Error(), `enforces the "`+level+`" level`)) {
			t.Errorf("%q: got %v (code %d)", level, err, ExitCode(err))
		}
	}
}

func TestRoleFor(t *testing.T) {
	role := RoleFor("team-a", []access{{"patch", "pods", "ephemeralcontainers"}, {"get", "pods", ""}})
	var got struct {
		Kind     string
		Metadata struct{ Name, Namespace string }
		Rules    []struct {
			Resources []string
			Verbs     []string
		}
	}
	if err := yaml.Unmarshal([]byte(role), &got); err != nil {
		t.Fatalf("the Role is not valid YAML: %v\n%s", err, role)
	}
	if got.Kind != "Role" || got.Metadata.Namespace != "team-a" || len(got.Rules) != 2 ||
		got.Rules[0].Resources[0] != "pods/ephemeralcontainers" || got.Rules[0].Verbs[0] != "patch" || got.Rules[1].Resources[0] != "pods" {
		t.Fatalf("unexpected Role:\n%s", role)
	}
}
