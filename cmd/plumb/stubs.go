package main

import "github.com/spf13/cobra"

func (a *app) cronCmd() *cobra.Command   { return &cobra.Command{Use: "cron"} }
func (a *app) gorCmd() *cobra.Command    { return &cobra.Command{Use: "gor"} }
func (a *app) apisixCmd() *cobra.Command { return &cobra.Command{Use: "apisix"} }
func (a *app) txCmd() *cobra.Command     { return &cobra.Command{Use: "tx"} }
func (a *app) queueCmd() *cobra.Command  { return &cobra.Command{Use: "queue"} }
func (a *app) webCmd() *cobra.Command    { return &cobra.Command{Use: "web"} }
