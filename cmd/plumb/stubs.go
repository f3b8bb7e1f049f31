package main

import "github.com/spf13/cobra"

func (a *app) cronJobsCmd() *cobra.Command    { return &cobra.Command{Use: "jobs", Hidden: true} }
func (a *app) cronHistoryCmd() *cobra.Command { return &cobra.Command{Use: "history", Hidden: true} }
