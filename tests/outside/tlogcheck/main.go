// tlogcheck verifies Merkle proofs and signed notes with golang.org/x/mod/sumdb (the Go
// checksum database's own RFC 6962 / RFC 9162 and signed-note code), for the tests: one JSON
// request a line on stdin, one answer a line on stdout ("ok", or "error: ...").
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type request struct {
	Op      string   `json:"op"`
	Index   int64    `json:"index"`
	Size    int64    `json:"size"`
	Old     int64    `json:"old"`
	Leaf    string   `json:"leaf"`
	Root    string   `json:"root"`
	OldRoot string   `json:"old_root"`
	Proof   []string `json:"proof"`
	Key     string   `json:"key"`
	Note    string   `json:"note"`
}

func hash(text string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := hex.DecodeString(text)
	if err != nil || len(b) != len(h) {
		return h, errors.New("not a hex SHA-256 hash: " + text)
	}
	copy(h[:], b)
	return h, nil
}

func hashes(texts []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(texts))
	for _, text := range texts {
		h, err := hash(text)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func first(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func check(r request) (string, error) {
	switch r.Op {
	case "inclusion":
		proof, err := hashes(r.Proof)
		leaf, err1 := hash(r.Leaf)
		root, err2 := hash(r.Root)
		if err = first(err, err1, err2); err != nil {
			return "", err
		}
		return "", tlog.CheckRecord(tlog.RecordProof(proof), r.Size, root, r.Index, leaf)
	case "consistency":
		proof, err := hashes(r.Proof)
		root, err1 := hash(r.Root)
		old, err2 := hash(r.OldRoot)
		if err = first(err, err1, err2); err != nil {
			return "", err
		}
		return "", tlog.CheckTree(tlog.TreeProof(proof), r.Size, root, r.Old, old)
	case "note":
		verifier, err := note.NewVerifier(r.Key)
		if err != nil {
			return "", err
		}
		opened, err := note.Open([]byte(r.Note), note.VerifierList(verifier))
		if err != nil {
			return "", err
		}
		return opened.Text, nil
	}
	return "", fmt.Errorf("unknown op %q", r.Op)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var r request
		answer := map[string]string{"result": "ok"}
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			answer["result"] = "error: " + err.Error()
		} else if text, err := check(r); err != nil {
			answer["result"] = "error: " + err.Error()
		} else {
			answer["text"] = text
		}
		out.Encode(answer)
	}
}
