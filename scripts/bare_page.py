"""The floor under the app's first page: a bare Gradio page with two small Plotly charts and
nothing else (no torch, no model, no other component). `python scripts/latency.py --page-only
--bare` times it exactly as it times the app, so the two numbers show how much of the start
is Gradio and plotly themselves on this machine."""

import gradio as gr
import plotly.graph_objects as go

with gr.Blocks(title="bare page") as demo:
    gr.Markdown("# Two charts")
    gr.Plot(go.Figure(go.Scatter(y=[1, 3, 2])))
    gr.Plot(go.Figure(go.Bar(y=[1, 2, 3])))

if __name__ == "__main__":
    demo.launch()
