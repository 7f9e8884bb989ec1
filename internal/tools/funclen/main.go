// Command funclen fails when a function of the given packages' non-test Go
// files is longer than -max lines, from its func line to its closing brace.
// CI runs it on the library so that no function grows past what a reader
// holds in view.
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	limit := flag.Int("max", 60, "the most lines a function may have")
	flag.Parse()
	var long []string
	for _, arg := range flag.Args() {
		found, err := check(arg, *limit)
		if err != nil {
			fmt.Fprintln(os.Stderr, "funclen:", err)
			os.Exit(2)
		}
		long = append(long, found...)
	}
	sort.Strings(long)
	for _, l := range long {
		fmt.Println(l)
	}
	if len(long) > 0 {
		fmt.Printf("%d functions over %d lines\n", len(long), *limit)
		os.Exit(1)
	}
}

// check walks pattern (a directory, or dir/... for it and those below) and
// returns "file:line name: N lines" for each function over limit.
func check(pattern string, limit int) ([]string, error) {
	root, recursive := strings.CutSuffix(pattern, "/...")
	var long []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (!recursive || d.Name() == "testdata" || d.Name() == "tools") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		found, err := checkFile(path, limit)
		long = append(long, found...)
		return err
	})
	return long, err
}

func checkFile(path string, limit int) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		return nil, err
	}
	var long []string
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
		if n := end.Line - start.Line + 1; n > limit {
			long = append(long, fmt.Sprintf("%s:%d %s: %d lines", path, start.Line, fn.Name.Name, n))
		}
	}
	return long, nil
}
