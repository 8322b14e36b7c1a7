// Command mkimage turns a root filesystem directory into an image tarball in
// the `docker save` layout (manifest.json, config, one layer), which
// `ctr images import` loads into containerd. It lets the project build its
// images on machines without a Docker engine. Output is reproducible: file
// times and owners are fixed.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

func main() {
	rootfs := flag.String("rootfs", "", "root filesystem directory")
	tag := flag.String("tag", "", "image reference, e.g. example.com/name:tag")
	out := flag.String("o", "", "output tarball")
	entrypoint := flag.String("entrypoint", "", "entrypoint, space-separated")
	labels := map[string]string{}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	flag.Func("env", "environment variable KEY=VALUE of the image (repeatable)", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		env = append(env, v)
		return nil
	})
	flag.Func("label", "image label KEY=VALUE (repeatable)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		labels[k] = val
		return nil
	})
	flag.Parse()
	if *rootfs == "" || *tag == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkimage -rootfs DIR -tag REF -o OUT.tar [-entrypoint CMD] [-label KEY=VALUE]... [-env KEY=VALUE]...")
		os.Exit(2)
	}
	if err := build(*rootfs, *tag, *out, strings.Fields(*entrypoint), labels, env); err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %v\n", err)
		os.Exit(1)
	}
}

func build(rootfs, tag, out string, entrypoint []string, labels map[string]string, env []string) error {
	layer, err := os.CreateTemp("", "layer-*.tar")
	if err != nil {
		return fmt.Errorf("create layer: %w", err)
	}
	defer os.Remove(layer.Name())
	defer layer.Close()
	h := sha256.New()
	if err := writeLayer(io.MultiWriter(layer, h), rootfs); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	diffID := "sha256:" + hex.EncodeToString(h.Sum(nil))

	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": entrypoint,
			"Env":        env,
			"Labels":     labels,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	sum := sha256.Sum256(config)
	configName := hex.EncodeToString(sum[:]) + ".json"
	layerName := strings.TrimPrefix(diffID, "sha256:") + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{tag}, "Layers": []string{layerName},
	}})
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}

	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create image: %w", err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := addBytes(tw, configName, config); err != nil {
		return err
	}
	if err := addBytes(tw, "manifest.json", manifest); err != nil {
		return err
	}
	if _, err := layer.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("rewind layer: %w", err)
	}
	st, err := layer.Stat()
	if err != nil {
		return fmt.Errorf("stat layer: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: layerName, Mode: 0o644, Size: st.Size(), ModTime: time.Unix(0, 0)}); err != nil {
		return fmt.Errorf("write layer header: %w", err)
	}
	if _, err := io.Copy(tw, layer); err != nil {
		return fmt.Errorf("copy layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close image: %w", err)
	}
	return f.Close()
}

func addBytes(tw *tar.Writer, name string, b []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: time.Unix(0, 0)}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// writeLayer tars the tree under root, keeping modes and symlinks.
func writeLayer(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = time.Unix(0, 0), time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
