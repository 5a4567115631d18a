package scavenger

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scavenge/scavenge/checkpoint"
	"github.com/scavenge/scavenge/peer/wire"
)

// packTo packs dir as an image file and returns its path and manifest.
func packTo(t *testing.T, dir string, m checkpoint.Manifest) (string, *checkpoint.Manifest) {
	t.Helper()
	m.Task = "j/0"
	f, err := os.Create(filepath.Join(t.TempDir(), "image"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := checkpoint.Pack(context.Background(), f, dir, m)
	if err != nil {
		t.Fatal(err)
	}
	return f.Name(), got
}

// TestResumeImage unpacks images as a donor asked to resume does: a signal
// image becomes the checkpoint folder; a criu image's task dir goes back to
// its old path, which must be a folder of criuRoot, whatever the image says.
func TestResumeImage(t *testing.T) {
	old := criuRoot
	criuRoot = t.TempDir()
	t.Cleanup(func() { criuRoot = old })

	newTask := func(t *testing.T, backend string, m *checkpoint.Manifest) *donorTask {
		return &donorTask{d: &donor{workDir: t.TempDir()}, cl: &claim{id: "c1"},
			spec: &wire.TaskSpec{Checkpoint: backend, Resume: &wire.Resume{Backend: backend, ID: m.ID}}}
	}

	t.Run("signal", func(t *testing.T) {
		state := t.TempDir()
		os.WriteFile(filepath.Join(state, "count"), []byte("41"), 0o644)
		os.WriteFile(filepath.Join(state, checkpoint.RequestFile), nil, 0o644)
		image, m := packTo(t, state, checkpoint.Manifest{Backend: checkpoint.Signal})
		taskDir := t.TempDir()
		dir, images, err := newTask(t, wire.BackendSignal, m).resumeImage(image, taskDir)
		if err != nil || dir != taskDir || images != "" {
			t.Fatalf("resumeImage = %q, %q, %v; want the task dir back", dir, images, err)
		}
		if b, _ := os.ReadFile(filepath.Join(taskDir, checkpointDirName, "count")); string(b) != "41" {
			t.Errorf("checkpoint folder's count = %q, want 41", b)
		}
		if _, err := os.Stat(filepath.Join(taskDir, checkpointDirName, checkpoint.RequestFile)); err == nil {
			t.Error("the request that ended the last run is still there")
		}
	})

	t.Run("criu", func(t *testing.T) {
		stage := t.TempDir()
		os.MkdirAll(filepath.Join(stage, imageCRIUDir), 0o700)
		os.WriteFile(filepath.Join(stage, imageCRIUDir, "core-1.img"), []byte("core"), 0o600)
		os.MkdirAll(filepath.Join(stage, imageWorkDir), 0o700)
		os.WriteFile(filepath.Join(stage, imageWorkDir, "out.txt"), []byte("half"), 0o644)
		want := filepath.Join(criuRoot, "j-0-c0")
		os.MkdirAll(want, 0o700) // stale, left by a donor that died
		image, m := packTo(t, stage, checkpoint.Manifest{Backend: checkpoint.CRIU, Meta: map[string]string{metaTaskDir: want}})
		dir, images, err := newTask(t, wire.BackendCRIU, m).resumeImage(image, t.TempDir())
		if err != nil || dir != want || images == "" {
			t.Fatalf("resumeImage = %q, %q, %v; want %s and criu's images", dir, images, err, want)
		}
		if b, _ := os.ReadFile(filepath.Join(want, "out.txt")); string(b) != "half" {
			t.Errorf("task dir's out.txt = %q, want it back", b)
		}
		if b, _ := os.ReadFile(filepath.Join(images, "core-1.img")); string(b) != "core" {
			t.Errorf("criu's images: core-1.img = %q", b)
		}
	})

	t.Run("criu, empty folders", func(t *testing.T) {
		taskDir := filepath.Join(criuRoot, "j-0-c9")
		os.MkdirAll(filepath.Join(taskDir, "out", "empty"), 0o700)
		stage := t.TempDir()
		dirs, _, err := linkTree(taskDir, filepath.Join(stage, imageWorkDir))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(stage, imageCRIUDir), 0o700)
		os.WriteFile(filepath.Join(stage, imageCRIUDir, "core-1.img"), nil, 0o600)
		image, m := packTo(t, stage, checkpoint.Manifest{Backend: checkpoint.CRIU,
			Meta: map[string]string{metaTaskDir: taskDir, metaDirs: strings.Join(dirs, "\n")}})
		os.RemoveAll(taskDir)
		dir, _, err := newTask(t, wire.BackendCRIU, m).resumeImage(image, t.TempDir())
		if err != nil || dir != taskDir {
			t.Fatalf("resumeImage = %q, %v; want %s", dir, err, taskDir)
		}
		if fi, err := os.Stat(filepath.Join(taskDir, "out", "empty")); err != nil || !fi.IsDir() {
			t.Errorf("empty folder out/empty not recreated: %v", err)
		}
	})

	t.Run("criu image naming a dir elsewhere", func(t *testing.T) {
		victim := t.TempDir()
		os.WriteFile(filepath.Join(victim, "precious"), []byte("keep"), 0o644)
		for _, dir := range []string{victim, filepath.Join(criuRoot, ".."), criuRoot, filepath.Join(criuRoot, "a", "b")} {
			stage := t.TempDir()
			os.MkdirAll(filepath.Join(stage, imageWorkDir), 0o700)
			os.WriteFile(filepath.Join(stage, imageWorkDir, "x"), nil, 0o644)
			image, m := packTo(t, stage, checkpoint.Manifest{Backend: checkpoint.CRIU, Meta: map[string]string{metaTaskDir: dir}})
			_, _, err := newTask(t, wire.BackendCRIU, m).resumeImage(image, t.TempDir())
			if err == nil || !strings.Contains(err.Error(), "is not a folder of") {
				t.Errorf("task dir %q: %v, want it refused", dir, err)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(victim, "precious")); string(b) != "keep" {
			t.Error("a hostile image removed a folder outside criuRoot")
		}
	})

	t.Run("an image of the other backend", func(t *testing.T) {
		image, m := packTo(t, t.TempDir(), checkpoint.Manifest{Backend: checkpoint.Signal})
		_, _, err := newTask(t, wire.BackendCRIU, m).resumeImage(image, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "a signal image") {
			t.Errorf("%v, want the backend mismatch refused", err)
		}
	})
}
