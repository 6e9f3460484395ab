// Command gohttp is the application of the gohttp test image
// (images/recipes/gohttp.sh): a static HTTP server.
//
//	GET /         "hello from gohttp\n"
//	GET /file     the data file (-file, default /app/data/hello.txt)
//	GET /env?k=K  the value of environment variable K
//
// It listens on -addr (default $GOHTTP_ADDR or :8080) and exits cleanly on
// SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Greeting is the body of GET /.
const Greeting = "hello from gohttp\n"

func main() {
	addr := os.Getenv("GOHTTP_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	flag.StringVar(&addr, "addr", addr, "listen address")
	file := flag.String("file", "/app/data/hello.txt", "file served at /file")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, Greeting)
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, *file)
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, os.Getenv(r.URL.Query().Get("k")))
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("gohttp listening on %s", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	log.Print("gohttp stopped")
}
