"""A whole workshop round through the room_* API with gradio_client: open a room, join three
phones, push a guess exercise on an example photo, answer, reveal, read the results.

    python app.py                                   # in one terminal (or: python app.py --workshop)
    python docs/room_client_example.py              # in another; or give the app's address:
    python docs/room_client_example.py http://127.0.0.1:7860/

Run it on the machine the app runs on: a room is opened without a password from there. (On a
public server, pass the facilitator password to room_open.)
"""
import sys

from gradio_client import Client

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:7860/"

# the facilitator opens a room: a short code for the phones, a long key only the facilitator keeps
facilitator = Client(url, verbose=False)
room = facilitator.predict(api_name="/room_open")
code, key = room["code"], room["key"]
print("room", code, "- phones join at", room["join_url"])

# three phones join (each its own client, as each phone is its own browser); nicknames are optional
phones = []
for nickname in ["Ada", "Grace", ""]:
    phone = Client(url, verbose=False)
    me = phone.predict(code, nickname, api_name="/room_join")
    phones.append((phone, me["pid"]))
    print("joined:", me["nickname"])

# the facilitator pushes "where does the model look?" on an example photo (class: the predicted one)
exercise = facilitator.predict(code, key, "guess", "example:chelsea_cat.jpg", api_name="/room_push")["exercise"]
rows, cols = exercise["grid"]
print(f"exercise: where does {exercise['model_title']} look for '{exercise['class_name']}'? grid {rows}x{cols}")

# each phone taps up to three cells (flat indices: row * cols + column) and sends them
guesses = [[2 * cols + 2, 2 * cols + 3], [3 * cols + 3], "0, 1, 2"]
for (phone, pid), cells in zip(phones, guesses):
    view = phone.predict(code, pid, api_name="/room_view")  # what the phone shows: picture and grid
    assert view["exercise"]["id"] == exercise["id"]
    phone.predict(code, pid, cells, api_name="/room_answer")
status = facilitator.predict(code, key, api_name="/room_status")
print(f"{status['people']} phones joined, {status['answered']} answered")

# the reveal: the class's taps against the model's map, and each phone's own score
reveal = facilitator.predict(code, key, api_name="/room_reveal")
numbers = reveal["numbers"]
print(f"{numbers['hits']} of {numbers['answered']} found the hottest cell; "
      f"{numbers['heat_popular']:.0%} of the heat lies in the most chosen cells, "
      f"which cover {numbers['area_popular']:.0%} of the picture")
for phone, pid in phones:
    view = phone.predict(code, pid, api_name="/room_view")
    score = view["my_score"]
    print(f"  {view['nickname']}: cells {score['cells']}, hit {score['hit']}, "
          f"heat {score['heat_share']:.0%} on {score['area_share']:.0%} of the picture")

# the results: a JSON and a CSV file (downloaded by gradio_client), one row per exercise and nickname
results = facilitator.predict(code, key, api_name="/room_results")
print("results:", results["json"], results["csv"])
for row in results["results"]["exercises"][0]["answers"]:
    print("  ", row["nickname"], row["cells"], "hit" if row["hit"] else "miss")

facilitator.predict(code, key, api_name="/room_close")
print("room", code, "closed")
