// Package obspack is how both database stores (sqlite, postgres) keep an
// observation: its JSON, gzip-compressed, with the script texts taken out
// to be stored once each, keyed by their SHA-256. One format for both, so
// that `skimguard migrate` copies stored observations as they are.
package obspack

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/skimguard/skimguard"
)

// Packed is an observation as a store keeps it.
type Packed struct {
	// GZ is the gzip-compressed JSON of the observation without script
	// texts and screenshot; nil when there was no observation.
	GZ []byte
	// ScriptSources is the JSON array of the SHA-256 of each script's
	// text, in order ("" for a script without text); "" when there was no
	// observation.
	ScriptSources string
	// Screenshot is the PNG, nil when none was taken.
	Screenshot []byte
	// Sources are the distinct script texts, in order of first use.
	Sources []Source
}

// Source is one script text and its key.
type Source struct{ SHA256, Text string }

// Hash is the key of a script text: its hex SHA-256.
func Hash(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// Pack packs o; a nil o packs to the zero Packed.
func Pack(o *skimguard.Observation) (Packed, error) {
	var p Packed
	if o == nil {
		return p, nil
	}
	stripped := *o
	stripped.Scripts = make([]skimguard.Script, len(o.Scripts))
	hashes := make([]string, len(o.Scripts))
	have := map[string]bool{}
	for i, s := range o.Scripts {
		if s.Source != "" {
			h := Hash(s.Source)
			hashes[i] = h
			if !have[h] {
				have[h] = true
				p.Sources = append(p.Sources, Source{h, s.Source})
			}
			s.Source = ""
		}
		stripped.Scripts[i] = s
	}
	js, err := json.Marshal(&stripped)
	if err != nil {
		return p, fmt.Errorf("encode observation: %w", err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(js); err != nil {
		return p, fmt.Errorf("compress observation: %w", err)
	}
	if err := zw.Close(); err != nil {
		return p, fmt.Errorf("compress observation: %w", err)
	}
	hjs, err := json.Marshal(hashes)
	if err != nil {
		return p, fmt.Errorf("encode script text hashes: %w", err)
	}
	p.GZ, p.ScriptSources = buf.Bytes(), string(hjs)
	if len(o.Screenshot) > 0 {
		p.Screenshot = o.Screenshot
	}
	return p, nil
}

// Unpack rebuilds an observation from what Pack made, reading each script
// text with source; nil when gz is (no observation).
func Unpack(gz []byte, scriptSources string, screenshot []byte, source func(sha256 string) (string, error)) (*skimguard.Observation, error) {
	if gz == nil {
		return nil, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("decompress observation: %w", err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("decompress observation: %w", err)
	}
	o := new(skimguard.Observation)
	if err := json.Unmarshal(js, o); err != nil {
		return nil, fmt.Errorf("decode observation: %w", err)
	}
	var hashes []string
	if scriptSources != "" {
		if err := json.Unmarshal([]byte(scriptSources), &hashes); err != nil {
			return nil, fmt.Errorf("decode script text hashes: %w", err)
		}
	}
	if len(hashes) != len(o.Scripts) {
		return nil, fmt.Errorf("%d script texts recorded for %d scripts", len(hashes), len(o.Scripts))
	}
	for i, h := range hashes {
		if h == "" {
			continue
		}
		if o.Scripts[i].Source, err = source(h); err != nil {
			return nil, fmt.Errorf("script text %s: %w", h, err)
		}
	}
	o.Screenshot = screenshot
	return o, nil
}
