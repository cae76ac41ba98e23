// Package avahi holds the Avahi service file that advertises gatewayd on
// the LAN (_gatewayd._tcp), and the test that checks it.
package avahi

import (
	"bytes"
	"encoding/xml"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// serviceGroup is the part of Avahi's avahi-service.dtd the file uses.
type serviceGroup struct {
	XMLName xml.Name `xml:"service-group"`
	Name    struct {
		Text             string `xml:",chardata"`
		ReplaceWildcards string `xml:"replace-wildcards,attr"`
	} `xml:"name"`
	Services []struct {
		Type string   `xml:"type"`
		Port string   `xml:"port"`
		TXT  []string `xml:"txt-record"`
	} `xml:"service"`
}

func TestServiceFile(t *testing.T) {
	data, err := os.ReadFile("gatewayd.service")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`<!DOCTYPE service-group SYSTEM "avahi-service.dtd">`)) {
		t.Error("gatewayd.service lacks the avahi-service.dtd DOCTYPE that avahi-daemon expects")
	}
	var g serviceGroup
	if err := xml.Unmarshal(data, &g); err != nil {
		t.Fatalf("gatewayd.service: %v", err)
	}
	if g.Name.Text != "gatewayd on %h" || g.Name.ReplaceWildcards != "yes" {
		t.Errorf("name %q (replace-wildcards %q), want \"gatewayd on %%h\" with the host name filled in", g.Name.Text, g.Name.ReplaceWildcards)
	}
	if len(g.Services) != 1 {
		t.Fatalf("%d services, want 1", len(g.Services))
	}
	s := g.Services[0]
	if s.Type != "_gatewayd._tcp" {
		t.Errorf("type %q, want _gatewayd._tcp", s.Type)
	}
	if want := socketPort(t); s.Port != want {
		t.Errorf("port %q, want %q, the port of gatewayd.socket", s.Port, want)
	}
	if want := []string{"proto=1", "tls=0"}; !slices.Equal(s.TXT, want) {
		t.Errorf("TXT records %q, want %q", s.TXT, want)
	}
}

// socketPort is the port of ListenStream= in the packaged socket unit.
func socketPort(t *testing.T) string {
	t.Helper()
	unit, err := os.ReadFile("../gatewayd.socket")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ListenStream=(?:.*:)?(\d+)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("no ListenStream= port in ../gatewayd.socket")
	}
	if _, err := strconv.Atoi(string(m[1])); err != nil {
		t.Fatal(err)
	}
	return string(m[1])
}

// TestServiceFileValidates checks the file against Avahi's own DTD with
// xmllint (Debian: libxml2-utils, and avahi-daemon for the DTD).
func TestServiceFileValidates(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (Debian: libxml2-utils)")
	}
	const dtd = "/usr/share/avahi/avahi-service.dtd"
	args := []string{"--noout", "--nonet"}
	if _, err := os.Stat(dtd); err == nil {
		args = append(args, "--dtdvalid", dtd)
	} else {
		t.Logf("%s not found (Debian: avahi-daemon): checking that the XML is well formed only", dtd)
	}
	out, err := exec.Command(xmllint, append(args, "gatewayd.service")...).CombinedOutput()
	if err != nil {
		t.Errorf("xmllint %q: %v\n%s", args, err, out)
	}
}
