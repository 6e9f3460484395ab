package convert

import (
	"context"
	"github.com/scone-build/scone-build/pkg/sconeimage"
	"reflect"
	"testing"

	"github.com/scone-build/scone-build/internal/podmantest"
)

// TestPodmanRoundTrip loads converted images into podman, from a docker
// archive and from an OCI layout, and checks that podman sees the config we
// wrote. (Running converted images is tested with the real runtime in
// runtime/e2e.)
func TestPodmanRoundTrip(t *testing.T) {
	fixtures(t)
	p := podmantest.New(t)
	img, rep, err := convertImage(context.Background(), busyboxImage(t), opts()...)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigFile()
	for name, load := range map[string]func() string{
		"docker-archive": func() string {
			return p.Load(t, podmantest.WriteDockerArchive(t, img, "localhost/roundtrip/busybox:scone"))
		},
		"oci-layout": func() string { return p.PullOCI(t, podmantest.WriteLayout(t, img, "scone"), "scone") },
	} {
		t.Run(name, func(t *testing.T) {
			id := load()
			got := p.Inspect(t, id)
			if !reflect.DeepEqual(got.Entrypoint, want.Config.Entrypoint) || got.User != want.Config.User ||
				got.WorkingDir != want.Config.WorkingDir || got.StopSignal != want.Config.StopSignal {
				t.Errorf("podman sees config %+v, we wrote %+v", got, want.Config)
			}
			if got.Labels[sconeimage.LabelMRENCLAVE] != rep.MRENCLAVE || got.Labels["org.example"] != "kept" {
				t.Errorf("labels %v", got.Labels)
			}
			if _, ok := got.ExposedPorts["8080/tcp"]; !ok {
				t.Errorf("exposed ports %v", got.ExposedPorts)
			}
		})
	}
}
