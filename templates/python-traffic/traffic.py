"""Traffic prediction with a tiny model: hourly vehicle counts -> the next 6 hours.

The model (fitted on the input history, in pure Python): a daily profile (mean count per hour of
day) scaled by a linear trend fitted by least squares on the daily totals. Stdin: JSON
{"history": [counts per hour, oldest first, whole days]}; stdout: JSON {"next_6h": [...], ...}.
"""

import json
import sys

HOURS = 24
HORIZON = 6


def fit(history):
    days = len(history) // HOURS
    if days < 2:
        raise ValueError("need at least two whole days of hourly counts")
    profile = [sum(history[d * HOURS + h] for d in range(days)) / days for h in range(HOURS)]
    totals = [sum(history[d * HOURS : (d + 1) * HOURS]) for d in range(days)]
    mean_x, mean_y = (days - 1) / 2, sum(totals) / days
    slope = sum((d - mean_x) * (t - mean_y) for d, t in enumerate(totals)) / sum((d - mean_x) ** 2 for d in range(days))
    return profile, mean_y, slope, days


def predict(history):
    profile, mean_total, slope, days = fit(history)
    mean_profile = sum(profile) / HOURS
    start = len(history)
    forecast = []
    for step in range(HORIZON):
        hour = (start + step) % HOURS
        day = (start + step) / HOURS
        scale = (mean_total + slope * (day - (days - 1) / 2)) / (mean_profile * HOURS)
        forecast.append(round(profile[hour] * scale, 2))
    return {"next_6h": forecast, "daily_trend": round(slope, 3), "days": days}


if __name__ == "__main__":
    print(json.dumps(predict(json.load(sys.stdin)["history"]), sort_keys=True))
