package demo

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b), resp.Header
}

func TestCheckoutVariesOnEveryLoadButIsCleanUntilPlanted(t *testing.T) {
	s, err := Start(context.Background(), Options{Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, ha := get(t, s.CheckoutURL())
	b, hb := get(t, s.CheckoutURL())
	if a == b {
		t.Error("two loads of the checkout are identical; the demo must vary like a real shop")
	}
	if ha.Get("Content-Security-Policy-Report-Only") == hb.Get("Content-Security-Policy-Report-Only") {
		t.Error("the CSP nonce does not vary")
	}
	// html/template escapes the URL inside the script ("http:\/\/..."), so
	// look for the attacker's host.
	attacker := strings.TrimPrefix(s.AttackerURL, "http://")
	if strings.Contains(a, attacker) {
		t.Fatal("the clean shop references the attacker")
	}
	if !strings.Contains(a+b, "ab-a.js") || !strings.Contains(a+b, "ab-b.js") {
		t.Error("two loads must see both A/B variants")
	}
	s.Plant()
	c, _ := get(t, s.CheckoutURL())
	if !strings.Contains(c, attacker+"/i.gif") {
		t.Fatal("the planted checkout does not carry the skimmer")
	}
	s.Clean()
	if d, _ := get(t, s.CheckoutURL()); strings.Contains(d, attacker) {
		t.Fatal("Clean did not remove the skimmer")
	}
}

func TestAttackerRecordsOnlyTheShapeOfWhatItReceived(t *testing.T) {
	s, err := Start(context.Background(), Options{Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get(t, s.AttackerURL+"/i.gif?d=NDkyOTM4NjE2MDg3MTczMA")
	got := s.Stolen()
	if len(got) != 1 || strings.Contains(got[0], "NDkyOTM4") || !strings.Contains(got[0], "/i.gif") {
		t.Fatalf("Stolen() = %q", got)
	}
}

func TestStartFailsClearlyWhenThePortIsTaken(t *testing.T) {
	s, err := Start(context.Background(), Options{Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	port := s.ShopURL[strings.LastIndex(s.ShopURL, ":")+1:]
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	_, err = Start(context.Background(), Options{Port: p})
	if err == nil || !strings.Contains(err.Error(), "--port") {
		t.Fatalf("second Start on a taken port: %v", err)
	}
}
