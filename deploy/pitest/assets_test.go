package pitest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// assets are the Debian arm64 files the emulated Pi boots from.
type assets struct {
	Kernel  string // linux-image-*-arm64: /boot/vmlinuz-*
	DTB     string // the same package: broadcom/bcm2837-rpi-3-b.dtb
	Busybox string // busybox-static: /bin/busybox
	Version string // what was fetched, for the log
}

// assetsLayout names the cache directory; change it when what is cached changes.
const assetsLayout = "debian-bookworm-arm64-v1"

// cacheDir is where downloads are kept between runs:
// $GATEWAYD_PI_CACHE, else $XDG_CACHE_HOME/gatewayd-pitest, else ~/.cache/gatewayd-pitest.
func cacheDir() (string, error) {
	if dir := os.Getenv("GATEWAYD_PI_CACHE"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "gatewayd-pitest"), nil
}

// fetchAssets returns the kernel, device tree and busybox, downloading and
// unpacking them once. A complete cache is used as it is, without network.
func fetchAssets(t *testing.T) assets {
	t.Helper()
	root, err := cacheDir()
	if err != nil {
		t.Fatalf("cache directory: %v", err)
	}
	dir := filepath.Join(root, assetsLayout)
	a := assets{
		Kernel:  filepath.Join(dir, "vmlinuz"),
		DTB:     filepath.Join(dir, "bcm2837-rpi-3-b.dtb"),
		Busybox: filepath.Join(dir, "busybox"),
	}
	if v, err := os.ReadFile(filepath.Join(dir, "VERSION")); err == nil {
		a.Version = strings.TrimSpace(string(v))
		t.Logf("using cached %s from %s", a.Version, dir)
		return a
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(root, "fetch-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	version, err := download(t, root, tmp)
	if err != nil {
		t.Fatalf("fetching the Debian arm64 kernel and busybox: %v", err)
	}
	// The directory appears whole or not at all, so an interrupted run
	// leaves no half cache behind.
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "VERSION")); statErr != nil {
			t.Fatal(err)
		} // else another run filled the cache meanwhile
	}
	os.RemoveAll(filepath.Join(root, "apt")) // the package lists are needed no more
	a.Version = version
	t.Logf("fetched %s into %s", version, dir)
	return a
}

// download fetches the arm64 packages with the host's apt, from the host's
// Debian sources but into a private package list under root, so the host's
// dpkg needs no foreign architecture and apt's own state is left alone.
// It leaves vmlinuz, the dtb, busybox and VERSION in dir.
func download(t *testing.T, root, dir string) (string, error) {
	state := filepath.Join(root, "apt")
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o755); err != nil {
			return "", err
		}
	}
	status := filepath.Join(state, "status")
	if err := os.WriteFile(status, nil, 0o644); err != nil {
		return "", err
	}
	opts := []string{
		"-o", "APT::Architecture=arm64",
		"-o", "APT::Architectures=arm64",
		"-o", "Dir::State::Lists=" + filepath.Join(state, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(state, "cache"),
		"-o", "Dir::State::status=" + status,
		"-o", "APT::Sandbox::User=root", // the _apt user cannot write into a home directory
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
	}
	apt := func(name string, args ...string) ([]byte, error) {
		cmd := exec.Command(name, append(append([]string{"-q"}, opts...), args...)...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
		}
		return out, nil
	}
	t.Log("apt-get update (arm64 package lists, private to the test cache)")
	if _, err := apt("apt-get", "update"); err != nil {
		return "", err
	}
	// linux-image-arm64 is the metapackage; it depends on the current image.
	deps, err := apt("apt-cache", "depends", "linux-image-arm64")
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`Depends: (linux-image-[0-9][^\s]*-arm64)\b`).FindSubmatch(deps)
	if m == nil {
		return "", fmt.Errorf("no linux-image-*-arm64 among the dependencies of linux-image-arm64:\n%s", deps)
	}
	image := string(m[1])
	t.Logf("apt-get download %s busybox-static", image)
	if _, err := apt("apt-get", "download", image, "busybox-static"); err != nil {
		return "", err
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	var version []string
	for _, deb := range debs {
		version = append(version, strings.TrimSuffix(filepath.Base(deb), ".deb"))
		tree := strings.TrimSuffix(deb, ".deb")
		if out, err := exec.Command("dpkg-deb", "-x", deb, tree).CombinedOutput(); err != nil {
			return "", fmt.Errorf("dpkg-deb -x %s: %v\n%s", deb, err, out)
		}
	}
	pick := func(dst, pattern string) error {
		found, _ := filepath.Glob(filepath.Join(dir, "*", pattern))
		if len(found) != 1 {
			return fmt.Errorf("want one %s in the packages, found %q", pattern, found)
		}
		return os.Rename(found[0], filepath.Join(dir, dst))
	}
	for _, p := range [][2]string{
		{"vmlinuz", "boot/vmlinuz-*"},
		{"bcm2837-rpi-3-b.dtb", "usr/lib/linux-image-*/broadcom/bcm2837-rpi-3-b.dtb"},
		{"busybox", "bin/busybox"},
	} {
		if err := pick(p[0], p[1]); err != nil {
			return "", err
		}
	}
	for _, deb := range debs {
		os.RemoveAll(strings.TrimSuffix(deb, ".deb"))
		os.Remove(deb)
	}
	v := strings.Join(version, " ")
	return v, os.WriteFile(filepath.Join(dir, "VERSION"), []byte(v+"\n"), 0o644)
}
